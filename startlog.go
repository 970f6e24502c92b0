package entgldb

import (
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/app"
)

// logNodeStarted writes the one-line start summary. The cluster key never
// appears in it: only whether one is set.
func logNodeStarted(logger *zap.Logger, cfg config.Config, node *app.Node, took time.Duration) {
	fields := []zap.Field{
		zap.String("node_id", node.ID()),
		zap.Int("tcp_port", cfg.Network.TcpPort),
		zap.Int("udp_port", cfg.Network.UdpPort),
		zap.String("bind", cfg.Network.BindAddress),
		zap.String("database", cfg.Persistence.DatabasePath),
		zap.Strings("static_peers", cfg.Network.StaticPeers),
		zap.Bool("discovery", cfg.Network.EnableDiscovery),
		zap.Bool("secure", cfg.Network.Secure),
		zap.Bool("cluster_key_set", cfg.AuthToken != ""),
		zap.Bool("open_cluster", cfg.Security.OpenCluster),
		zap.Int("legacy_peers", len(cfg.Security.LegacyPeers)),
		zap.String("conflict_resolution", cfg.Sync.ConflictResolution),
		zap.Duration("took", took),
	}
	if cfg.Http.Enabled {
		fields = append(fields, zap.String("http", cfg.Http.Address))
	}
	logger.Info("entgldb node started", fields...)
}
