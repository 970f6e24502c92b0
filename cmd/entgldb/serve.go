package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/telemetry"
	"github.com/entgldb/entgldb-go/domain"
)

// shutdownGrace bounds a graceful stop; a second signal forces exit sooner.
const shutdownGrace = 20 * time.Second

func addServeCommand(root *cobra.Command) {
	var (
		cfgPath, db, httpAddr, nodeID, join string
		tcpPort, udpPort                    int
		peers                               []string
	)
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run a node until SIGINT/SIGTERM, then shut down gracefully",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			overrides := map[string]any{}
			flags := cmd.Flags()
			if flags.Changed("db") {
				overrides["Persistence.DatabasePath"] = db
			}
			if flags.Changed("tcp-port") {
				overrides["Network.TcpPort"] = tcpPort
			}
			if flags.Changed("udp-port") {
				overrides["Network.UdpPort"] = udpPort
			}
			if flags.Changed("http") {
				overrides["Http.Address"] = httpAddr
			}
			if flags.Changed("node-id") {
				overrides["NodeId"] = nodeID
			}
			if flags.Changed("peer") {
				overrides["Network.StaticPeers"] = peers
			}
			cfg, err := config.Load(config.FindFile(cfgPath), os.Environ(), overrides)
			if err != nil {
				return err
			}
			if cfg, err = clusterSecret(cmd, cfg, join); err != nil {
				return err
			}
			if err := printFingerprint(cmd, cfg); err != nil {
				return err
			}
			return serveNode(cmd.Context(), cfg)
		},
	}
	f := serve.Flags()
	f.StringVar(&cfgPath, "config", "", "configuration file (default ./appsettings.json when present)")
	f.StringVar(&db, "db", "", "database path (Persistence.DatabasePath)")
	f.IntVar(&tcpPort, "tcp-port", 0, "sync port (Network.TcpPort)")
	f.IntVar(&udpPort, "udp-port", 0, "discovery port (Network.UdpPort)")
	f.StringVar(&httpAddr, "http", "", "HTTP API address (Http.Address)")
	f.StringVar(&nodeID, "node-id", "", "node id (NodeId)")
	f.StringArrayVar(&peers, "peer", nil, "static peer host:port (repeatable)")
	f.StringVar(&join, "join", "", "join the cluster of this token (printed by `entgldb token` on a member)")
	root.AddCommand(serve)

	var tokenCfg, tokenDB string
	token := &cobra.Command{
		Use:   "token [--config FILE] [--db PATH]",
		Short: "Print the join token of this machine's node: `entgldb serve --join TOKEN` on another node makes it a member",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			overrides := map[string]any{}
			if cmd.Flags().Changed("db") {
				overrides["Persistence.DatabasePath"] = tokenDB
			}
			cfg, err := config.Load(config.FindFile(tokenCfg), os.Environ(), overrides)
			if err != nil {
				return err
			}
			if cfg.Security.OpenCluster && cfg.AuthToken == "" {
				return domain.Errorf(domain.CodeConfig, "token", "this node runs an open cluster (Security.OpenCluster): there is no secret to join with")
			}
			tok, err := entgldb.JoinToken(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	token.Flags().StringVar(&tokenCfg, "config", "", "configuration file (default ./appsettings.json when present)")
	token.Flags().StringVar(&tokenDB, "db", "", "database path (Persistence.DatabasePath): the secret is kept beside it")
	root.AddCommand(token)
}

// clusterSecret applies --join, then resolves the node's secret; a secret
// made just now is announced once, with the command another node joins by.
func clusterSecret(cmd *cobra.Command, cfg config.Config, join string) (config.Config, error) {
	if join != "" {
		if cfg.AuthToken != "" || cfg.Security.OpenCluster {
			return cfg, domain.Errorf(domain.CodeConfig, "serve", "--join cannot be combined with AuthToken or Security.OpenCluster")
		}
		if err := entgldb.Join(cfg, join); err != nil {
			return cfg, err
		}
	}
	secret, created, err := entgldb.ClusterSecret(cfg)
	if err != nil {
		return cfg, err
	}
	if created {
		fmt.Fprintf(cmd.ErrOrStderr(), "This node started a new cluster (secret kept in %s).\nTo add another node, run on it:\n\n    entgldb serve --join %s\n\n(`entgldb token` prints the token again.)\n",
			cfg.SecretPath(), secret)
	}
	cfg.AuthToken = secret
	return cfg, nil
}

// serveNode runs the node until a signal, then stops it gracefully; a second
// signal forces exit.
func serveNode(parent context.Context, cfg config.Config) error {
	if parent == nil {
		parent = context.Background()
	}
	logger, closeLog, err := telemetry.NewLogger(cfg.Logging, isTerminal(os.Stderr))
	if err != nil {
		return err
	}
	defer closeLog()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	started := time.Now()
	db, err := entgldb.Open(ctx, entgldb.Options{Config: cfg, Logger: logger})
	if err != nil {
		logger.Error("node failed to start", zap.Error(err))
		return err
	}

	sig := <-sigs
	// The summary is read while the store is open: after Stop it is closed.
	st := db.Status(context.Background())
	logger.Info("shutting down", zap.String("signal", sig.String()), zap.Duration("grace", shutdownGrace),
		zap.Int64("documents_synced", st.DocumentsSynced), zap.Int("offline_queue_length", st.OfflineQueueLen))
	stopCtx, stopCancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer stopCancel()
	stopped := make(chan error, 1)
	go func() { stopped <- db.Stop(stopCtx) }()
	select {
	case err := <-stopped:
		if err != nil {
			logger.Error("shutdown finished with errors", zap.Error(err))
			return domain.Wrap(domain.CodeInternal, "serve", err)
		}
		logger.Info("entgldb node stopped", zap.String("node_id", db.ID()), zap.Duration("uptime", time.Since(started)))
		return nil
	case sig := <-sigs:
		logger.Warn("second signal: forcing exit", zap.String("signal", sig.String()))
		return fmt.Errorf("forced exit on second signal %s", sig)
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
