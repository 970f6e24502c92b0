package entgldb

import (
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/secrets"
)

// ClusterSecret resolves the cluster secret of cfg: the configured AuthToken;
// nothing for an explicitly open cluster; otherwise the join token kept in
// cfg.SecretPath(), generated at the first start (created says so, so that a
// command line can tell the operator how another node joins).
func ClusterSecret(cfg Config) (secret string, created bool, err error) {
	switch {
	case cfg.AuthToken != "":
		return cfg.AuthToken, false, nil
	case cfg.Security.OpenCluster:
		return "", false, nil
	}
	return secrets.LoadOrCreate(cfg.SecretPath())
}

// JoinToken returns the join token of the node configured by cfg: what
// `entgldb serve --join` takes on another node.
func JoinToken(cfg Config) (string, error) {
	if cfg.AuthToken != "" {
		return cfg.AuthToken, nil
	}
	return secrets.Read(cfg.SecretPath())
}

// Join makes the node configured by cfg a member of the cluster of token:
// the token is kept as its secret (refused when the node already keeps a
// different one).
func Join(cfg Config, token string) error { return secrets.Join(cfg.SecretPath(), token) }

// withClusterSecret fills cfg.AuthToken from the kept secret.
func withClusterSecret(cfg config.Config, logger *zap.Logger) (config.Config, error) {
	secret, created, err := ClusterSecret(cfg)
	if err != nil {
		return cfg, err
	}
	if created {
		logger.Info("created a new cluster secret; `entgldb token` prints the join token for other nodes",
			zap.String("file", cfg.SecretPath()))
	}
	cfg.AuthToken = secret
	return cfg, nil
}

// warnSecurity says at start what the configuration gives up.
func warnSecurity(logger *zap.Logger, cfg config.Config) {
	if cfg.Security.OpenCluster {
		logger.Warn("OPEN CLUSTER: Security.OpenCluster is on, so anyone who reaches the sync port can join, read every document and write; set a secret (remove OpenCluster) on any shared network",
			zap.Int("tcp_port", cfg.Network.TcpPort))
	}
	if n := len(cfg.Security.LegacyPeers); n > 0 {
		logger.Warn("legacy peers: the v5 family handshake sends the cluster secret to these peers and accepts it from their hosts; anyone on the path who can impersonate them learns it",
			zap.Strings("legacy_peers", cfg.Security.LegacyPeers))
	}
	if keys := cfg.FamilyKeys; len(keys) > 0 {
		logger.Warn("the configuration file holds a C# node's keys: mapped onto ours (KnownPeers onto Network.StaticPeers; list family nodes in Security.LegacyPeers too) or, without a counterpart, ignored; see docs/CONFIGURATION.md",
			zap.Strings("keys", keys))
	}
	if s := cfg.AuthToken; s != "" && secrets.CheckToken(s) != nil && len(s) < 32 {
		logger.Warn("AuthToken is short: anyone who records one handshake or beacon can test guesses of it offline; use a generated token (`entgldb token` on a node started without AuthToken)")
	}
}

// provideIdentity loads the node's identity key, creating it at the first start.
func provideIdentity(cfg config.Config, id nodeID, logger *zap.Logger) (protocol.Identity, error) {
	key, created, err := protocol.LoadOrCreateIdentityKey(cfg.IdentityKeyPath())
	if err != nil {
		return protocol.Identity{}, err
	}
	ident := protocol.Identity{NodeID: string(id), Private: key}
	if created {
		logger.Info("created the node's identity key", zap.String("file", cfg.IdentityKeyPath()),
			zap.String("fingerprint", protocol.Fingerprint(ident.Public())))
	}
	return ident, nil
}
