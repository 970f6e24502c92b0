package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/internal/nodeaccess"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// nodeConfig is a loopback-only node in dir: discovery off, HTTP off, no
// auto backup, secure + Brotli on (the defaults).
func nodeConfig(dir, id string, peers []string) (config.Config, error) {
	tcpPort, err := nodeproc.FreePort()
	if err != nil {
		return config.Config{}, err
	}
	udpPort, err := nodeproc.FreePort()
	if err != nil {
		return config.Config{}, err
	}
	cfg := config.Default()
	cfg.NodeId = id
	cfg.AuthToken = "bench-cluster"
	cfg.Network.TcpPort = tcpPort
	cfg.Network.UdpPort = udpPort
	cfg.Network.BindAddress = "127.0.0.1"
	cfg.Network.EnableDiscovery = false
	cfg.Network.StaticPeers = append([]string{}, peers...)
	cfg.Network.Secure = true
	cfg.Network.Compression = true
	cfg.Persistence.DatabasePath = filepath.Join(dir, "data", "entgldb.db")
	cfg.Persistence.BackupPath = filepath.Join(dir, "backups")
	cfg.Persistence.EnableAutoBackup = false
	cfg.Http.Enabled = false
	return cfg, nil
}

func peerAddr(cfg config.Config) string {
	return fmt.Sprintf("127.0.0.1:%d", cfg.Network.TcpPort)
}

// openNode starts an in-process node through the embedder API.
func openNode(ctx context.Context, cfg config.Config) (*entgldb.DB, error) {
	n, err := entgldb.Open(ctx, entgldb.Options{Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("open node %s: %w", cfg.NodeId, err)
	}
	return n, nil
}

// openLoopbackNode opens an in-process loopback node (nodeConfig) in dir.
func openLoopbackNode(ctx context.Context, dir, id string) (*entgldb.DB, config.Config, error) {
	cfg, err := nodeConfig(dir, id, nil)
	if err != nil {
		return nil, cfg, err
	}
	n, err := openNode(ctx, cfg)
	return n, cfg, err
}

// database is the node's app.Database, which the benchmark drives directly
// (the DB keeps it out of embedders' reach).
func database(n *entgldb.DB) *app.Database { return nodeaccess.Node(n).Database() }

// stopNode stops a node within a bounded time.
func stopNode(n *entgldb.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		return fmt.Errorf("stop node %s: %w", n.ID(), err)
	}
	return nil
}
