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
		cfgPath, db, httpAddr, nodeID string
		tcpPort, udpPort              int
		peers                         []string
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
	root.AddCommand(serve)
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
	logger.Info("shutting down", zap.String("signal", sig.String()), zap.Duration("grace", shutdownGrace))
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
		st := db.Status(context.Background())
		logger.Info("entgldb node stopped", zap.String("node_id", db.ID()),
			zap.Duration("uptime", time.Since(started)), zap.Int64("documents_synced", st.DocumentsSynced),
			zap.Int("offline_queue_length", st.OfflineQueueLen))
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
