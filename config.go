package entgldb

import (
	"path/filepath"

	"github.com/entgldb/entgldb-go/adapters/config"
)

// Config is the appsettings.json "EntglDb" object.
type Config = config.Config

// DefaultConfig returns the configuration of INTERFACE.md's defaults: a LAN
// node listening on every interface (sync on TCP 5000, discovery on UDP
// 6000, the HTTP API on 127.0.0.1:5080), data under ./data.
func DefaultConfig() Config { return config.Default() }

// LocalConfig returns a configuration for local development and tests: a
// node that keeps to itself under dir, so several can run side by side.
// From DefaultConfig it changes:
//
//   - Persistence.DatabasePath: dir/entgldb.db; Persistence.BackupPath:
//     dir/backups (automatic backups stay on, hourly).
//   - Network.BindAddress: 127.0.0.1 (loopback only).
//   - Network.TcpPort: 0, the sync listener takes a free port.
//   - Network.EnableDiscovery: false (no UDP socket; Network.UdpPort: 0).
//   - Http.Enabled: false (no HTTP API).
//
// Peers, if any, are set in Network.StaticPeers.
func LocalConfig(dir string) Config {
	cfg := config.Default()
	cfg.Persistence.DatabasePath = filepath.Join(dir, "entgldb.db")
	cfg.Persistence.BackupPath = filepath.Join(dir, "backups")
	cfg.Network.BindAddress = "127.0.0.1"
	cfg.Network.TcpPort = 0
	cfg.Network.EnableDiscovery = false
	cfg.Network.UdpPort = 0
	cfg.Http.Enabled = false
	return cfg
}
