// Package config is the node's configuration: one struct tree mirroring the
// "EntglDb" object of appsettings.json (INTERFACE.md), its defaults, loading
// from file + environment + flags with koanf, and validation that reports
// every problem at once.
package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/domain"
)

// Section is the top-level key of appsettings.json holding our settings.
const Section = "EntglDb"

// DefaultFile is the file `entgldb serve` reads when --config is not given
// and the file exists in the working directory.
const DefaultFile = "appsettings.json"

// Config is the "EntglDb" object. Field names are the canonical key names
// of the file (the koanf and json tags repeat them for the loaders).
type Config struct {
	NodeId      string      `koanf:"NodeId" json:"NodeId"`
	AuthToken   string      `koanf:"AuthToken" json:"AuthToken"`
	Network     Network     `koanf:"Network" json:"Network"`
	Persistence Persistence `koanf:"Persistence" json:"Persistence"`
	Sync        Sync        `koanf:"Sync" json:"Sync"`
	Http        Http        `koanf:"Http" json:"Http"`
	Logging     Logging     `koanf:"Logging" json:"Logging"`
	Health      Health      `koanf:"Health" json:"Health"`
	Security    Security    `koanf:"Security" json:"Security"`
	Maintenance Maintenance `koanf:"Maintenance" json:"Maintenance"`

	// FamilyKeys are the C# node's appsettings keys the file held, as
	// written, which were mapped onto ours or accepted without effect
	// (family.go); logged once at start.
	FamilyKeys []string `koanf:"-" json:"-"`
}

// Security configures who may join the cluster and how the sync plane
// guards itself (SECURITY.md). AuthToken is the cluster secret; when it is
// empty and OpenCluster is false, the node keeps a generated secret in
// SecretFile.
type Security struct {
	// SecretFile holds the generated cluster secret (the join token), 0600;
	// empty: cluster.secret beside the database.
	SecretFile string `koanf:"SecretFile" json:"SecretFile"`
	// IdentityKeyFile holds the node's ed25519 identity key, 0600; empty:
	// node.key beside the database.
	IdentityKeyFile string `koanf:"IdentityKeyFile" json:"IdentityKeyFile"`
	// OpenCluster is the explicit opt-in to a cluster without a secret:
	// anyone who reaches the sync port may join, read and write. Warned at
	// start and reported by /healthz.
	OpenCluster bool `koanf:"OpenCluster" json:"OpenCluster"`
	// LegacyPeers are static peers (host:port) of the C#/TypeScript family,
	// spoken to with their v5 handshake, which sends AuthToken to the peer.
	// Only these hosts may connect that way; every Go peer uses the
	// authenticated handshake.
	LegacyPeers []string `koanf:"LegacyPeers" json:"LegacyPeers"`
	// MaxPreAuthPerSource bounds the connections one source address may hold
	// before completing a handshake.
	MaxPreAuthPerSource int `koanf:"MaxPreAuthPerSource" json:"MaxPreAuthPerSource"`
	// MaxConcurrentSnapshots bounds the snapshots served at once.
	MaxConcurrentSnapshots int `koanf:"MaxConcurrentSnapshots" json:"MaxConcurrentSnapshots"`
}

// Default file names of the secrets kept beside the database.
const (
	DefaultSecretFileName      = "cluster.secret"
	DefaultIdentityKeyFileName = "node.key"
)

// SecretPath is where the generated cluster secret is kept.
func (c Config) SecretPath() string {
	return c.besideDatabase(c.Security.SecretFile, DefaultSecretFileName)
}

// IdentityKeyPath is where the node's identity key is kept.
func (c Config) IdentityKeyPath() string {
	return c.besideDatabase(c.Security.IdentityKeyFile, DefaultIdentityKeyFileName)
}

// besideDatabase is configured when set, else the file name in the
// database's directory.
func (c Config) besideDatabase(configured, name string) string {
	if configured != "" {
		return configured
	}
	return filepath.Join(filepath.Dir(c.Persistence.DatabasePath), name)
}

// Network configures the sync listener, discovery and peer connections.
type Network struct {
	TcpPort             int      `koanf:"TcpPort" json:"TcpPort"`
	UdpPort             int      `koanf:"UdpPort" json:"UdpPort"`
	BindAddress         string   `koanf:"BindAddress" json:"BindAddress"`
	RetryAttempts       int      `koanf:"RetryAttempts" json:"RetryAttempts"`
	RetryDelayMs        int      `koanf:"RetryDelayMs" json:"RetryDelayMs"`
	ConnectionTimeoutMs int      `koanf:"ConnectionTimeoutMs" json:"ConnectionTimeoutMs"`
	Secure              bool     `koanf:"Secure" json:"Secure"`
	Compression         bool     `koanf:"Compression" json:"Compression"`
	EnableDiscovery     bool     `koanf:"EnableDiscovery" json:"EnableDiscovery"`
	BroadcastAddress    string   `koanf:"BroadcastAddress" json:"BroadcastAddress"`
	StaticPeers         []string `koanf:"StaticPeers" json:"StaticPeers"`
	MaxConnections      int      `koanf:"MaxConnections" json:"MaxConnections"`
	MaxFrameBytes       int      `koanf:"MaxFrameBytes" json:"MaxFrameBytes"`
	// MaxResponseBytes caps a family peer's answer to our own request
	// (a C# 2.x node answers a pull with its whole oplog in one frame);
	// never below MaxFrameBytes.
	MaxResponseBytes int `koanf:"MaxResponseBytes" json:"MaxResponseBytes"`
	// FamilyUdpPort, when set (the C# node's is 25000), makes discovery
	// announce this node in the family's JSON beacon on that port and report
	// the family nodes it hears there; only with Security.LegacyPeers.
	FamilyUdpPort int `koanf:"FamilyUdpPort" json:"FamilyUdpPort"`
}

// Persistence configures the SQLite database, the cache and backups.
type Persistence struct {
	DatabasePath            string `koanf:"DatabasePath" json:"DatabasePath"`
	EnableWalMode           bool   `koanf:"EnableWalMode" json:"EnableWalMode"`
	CacheSizeMb             int    `koanf:"CacheSizeMb" json:"CacheSizeMb"`
	EnableAutoBackup        bool   `koanf:"EnableAutoBackup" json:"EnableAutoBackup"`
	BackupPath              string `koanf:"BackupPath" json:"BackupPath"`
	BackupIntervalMinutes   int    `koanf:"BackupIntervalMinutes" json:"BackupIntervalMinutes"`
	BackupKeep              int    `koanf:"BackupKeep" json:"BackupKeep"`
	MaxDocumentBytes        int    `koanf:"MaxDocumentBytes" json:"MaxDocumentBytes"`
	AutoRestoreOnCorruption bool   `koanf:"AutoRestoreOnCorruption" json:"AutoRestoreOnCorruption"`
}

// Sync configures the sync engine and the offline queue. The offline queue
// is the count of local changes no peer has confirmed holding (what this
// disk alone has); every change is kept in the oplog whatever its length.
type Sync struct {
	// EnableOfflineQueue: count the queue and report it (/v1/status,
	// entgldb_offline_queue_length) and warn past MaxQueueSize.
	EnableOfflineQueue bool `koanf:"EnableOfflineQueue" json:"EnableOfflineQueue"`
	// MaxQueueSize is the queue length past which a warning is logged, once
	// per crossing. Nothing is refused or dropped there.
	MaxQueueSize       int    `koanf:"MaxQueueSize" json:"MaxQueueSize"`
	IntervalMs         int    `koanf:"IntervalMs" json:"IntervalMs"`
	Fanout             int    `koanf:"Fanout" json:"Fanout"`
	BatchSize          int    `koanf:"BatchSize" json:"BatchSize"`
	MaxClockDriftMs    int    `koanf:"MaxClockDriftMs" json:"MaxClockDriftMs"`
	ConflictResolution string `koanf:"ConflictResolution" json:"ConflictResolution"`
}

// HTTP API limits by default (docs/CONFIGURATION.md).
const (
	DefaultHTTPMaxConnections = 1024
	DefaultHTTPMaxChangeFeeds = 256
)

// Http configures the local HTTP API.
type Http struct {
	Enabled bool   `koanf:"Enabled" json:"Enabled"`
	Address string `koanf:"Address" json:"Address"`
	// AllowedHosts are Host names answered besides the loopback names and
	// Address's own host (DNS-rebinding guard; ports are not compared).
	AllowedHosts []string `koanf:"AllowedHosts" json:"AllowedHosts"`
	// AllowedOrigins are the browser origins CORS lets in ("https://app.example");
	// empty: none, no Access-Control-Allow-* header is ever sent.
	AllowedOrigins []string `koanf:"AllowedOrigins" json:"AllowedOrigins"`
	// MaxConnections caps open HTTP connections; at the cap the oldest idle
	// one is closed for a new one, or the new one refused (0: the default).
	MaxConnections int `koanf:"MaxConnections" json:"MaxConnections"`
	// MaxChangeFeeds caps open /v1/changes subscribers; more get 503 (0: the default).
	MaxChangeFeeds int `koanf:"MaxChangeFeeds" json:"MaxChangeFeeds"`
	// TLSCertFile and TLSKeyFile are PEM files of the certificate (chain)
	// and key the API serves HTTPS with (tls.go).
	TLSCertFile string `koanf:"TLSCertFile" json:"TLSCertFile"`
	TLSKeyFile  string `koanf:"TLSKeyFile" json:"TLSKeyFile"`
	// TLSAuto serves HTTPS with a self-signed certificate made at the first
	// start and kept beside the database (tls.crt, tls.key); clients pin
	// its fingerprint.
	TLSAuto bool `koanf:"TLSAuto" json:"TLSAuto"`
	// AllowInsecure is the explicit opt-in to plain HTTP on a non-loopback
	// Address: warned at start and reported by /healthz.
	AllowInsecure bool `koanf:"AllowInsecure" json:"AllowInsecure"`
	// AdminKeyFile holds the API's admin key, 0600, made at first start;
	// empty: admin.key beside the database (see AdminKeyPath).
	AdminKeyFile string `koanf:"AdminKeyFile" json:"AdminKeyFile"`
	// KeysFile holds the hashes of the keys made with `entgldb keys create`;
	// empty: api-keys.json beside the database (see APIKeysPath).
	KeysFile string `koanf:"KeysFile" json:"KeysFile"`
	// PublicMetrics serves /metrics without a key (otherwise a key with
	// the metrics or admin scope is needed).
	PublicMetrics bool `koanf:"PublicMetrics" json:"PublicMetrics"`
}

// Logging configures the zap logger (adapters/telemetry).
type Logging struct {
	// Level is one of Trace, Debug, Information, Warning, Error, Critical.
	Level string `koanf:"Level" json:"Level"`
	// Format is "console", "json", or "auto" (console on a TTY, JSON otherwise).
	Format        string `koanf:"Format" json:"Format"`
	FilePath      string `koanf:"FilePath" json:"FilePath"`
	MaxFileSizeMb int    `koanf:"MaxFileSizeMb" json:"MaxFileSizeMb"`
	MaxFiles      int    `koanf:"MaxFiles" json:"MaxFiles"`
}

// Health configures the periodic self check.
type Health struct {
	CheckIntervalMinutes int `koanf:"CheckIntervalMinutes" json:"CheckIntervalMinutes"`
}

// Maintenance configures the background pass that compacts the oplog and
// gives space back to the disk (app.Maintenance). The *Seconds keys, when
// above 0, replace the minute and hour keys: for tests and for data kept
// only briefly.
type Maintenance struct {
	IntervalMinutes           int `koanf:"IntervalMinutes" json:"IntervalMinutes"`
	OplogRetentionHours       int `koanf:"OplogRetentionHours" json:"OplogRetentionHours"`
	TombstoneRetentionHours   int `koanf:"TombstoneRetentionHours" json:"TombstoneRetentionHours"`
	IntervalSeconds           int `koanf:"IntervalSeconds" json:"IntervalSeconds"`
	OplogRetentionSeconds     int `koanf:"OplogRetentionSeconds" json:"OplogRetentionSeconds"`
	TombstoneRetentionSeconds int `koanf:"TombstoneRetentionSeconds" json:"TombstoneRetentionSeconds"`
}

// Interval is the time between passes.
func (m Maintenance) Interval() time.Duration {
	return either(m.IntervalSeconds, time.Second, m.IntervalMinutes, time.Minute)
}

// OplogRetention is how long history a known peer lacks is kept for it.
func (m Maintenance) OplogRetention() time.Duration {
	return either(m.OplogRetentionSeconds, time.Second, m.OplogRetentionHours, time.Hour)
}

// TombstoneRetention is how long a delete every known peer holds is kept.
func (m Maintenance) TombstoneRetention() time.Duration {
	return either(m.TombstoneRetentionSeconds, time.Second, m.TombstoneRetentionHours, time.Hour)
}

// either is fine in fineUnit when above 0, else coarse in coarseUnit.
func either(fine int, fineUnit time.Duration, coarse int, coarseUnit time.Duration) time.Duration {
	if fine > 0 {
		return time.Duration(fine) * fineUnit
	}
	return time.Duration(coarse) * coarseUnit
}

// Conflict resolution strategies (Sync.ConflictResolution).
const (
	ConflictLWW   = "lww"
	ConflictMerge = "merge"
)

// Log levels (Logging.Level), the seed's names.
const (
	LevelTrace       = "Trace"
	LevelDebug       = "Debug"
	LevelInformation = "Information"
	LevelWarning     = "Warning"
	LevelError       = "Error"
	LevelCritical    = "Critical"
)

// Log formats (Logging.Format).
const (
	FormatConsole = "console"
	FormatJSON    = "json"
	FormatAuto    = "auto"
)

// Default returns the configuration of INTERFACE.md, used for every key the
// file, the environment and the flags leave out. Settings a component also
// falls back to on its own take the constant it uses (domain/defaults.go,
// protocol.DefaultMaxFrameBytes), so the two can never disagree.
func Default() Config {
	return Config{
		Network: Network{
			TcpPort: 5000, UdpPort: 6000, BindAddress: "0.0.0.0",
			RetryAttempts: 3, RetryDelayMs: 1000, ConnectionTimeoutMs: 5000,
			Secure: true, Compression: true,
			EnableDiscovery: true, BroadcastAddress: "",
			StaticPeers: []string{}, MaxConnections: 100, MaxFrameBytes: protocol.DefaultMaxFrameBytes,
			MaxResponseBytes: protocol.DefaultMaxResponseBytes,
		},
		Persistence: Persistence{
			DatabasePath: "data/entgldb.db", EnableWalMode: true, CacheSizeMb: 50,
			EnableAutoBackup: true, BackupPath: "backups/",
			BackupIntervalMinutes: 60, BackupKeep: 24, MaxDocumentBytes: domain.DefaultMaxDocumentBytes,
			AutoRestoreOnCorruption: false,
		},
		Sync: Sync{
			EnableOfflineQueue: true, MaxQueueSize: 1000,
			IntervalMs: int(domain.DefaultSyncInterval.Milliseconds()), Fanout: domain.DefaultSyncFanout,
			BatchSize:       domain.DefaultSyncBatchSize,
			MaxClockDriftMs: 60000, ConflictResolution: ConflictLWW,
		},
		Http: Http{Enabled: true, Address: "127.0.0.1:5080", AllowedHosts: []string{}, AllowedOrigins: []string{},
			MaxConnections: DefaultHTTPMaxConnections, MaxChangeFeeds: DefaultHTTPMaxChangeFeeds},
		Logging:  Logging{Level: LevelInformation, Format: FormatConsole, MaxFileSizeMb: 10, MaxFiles: 5},
		Health:   Health{CheckIntervalMinutes: 5},
		Security: Security{LegacyPeers: []string{}, MaxPreAuthPerSource: 8, MaxConcurrentSnapshots: 2},
		Maintenance: Maintenance{
			IntervalMinutes:         int(domain.DefaultMaintenanceInterval / time.Minute),
			OplogRetentionHours:     int(domain.DefaultOplogRetention / time.Hour),
			TombstoneRetentionHours: int(domain.DefaultTombstoneRetention / time.Hour),
		},
	}
}

// redactedToken replaces a non-empty AuthToken wherever a Config is shown.
const redactedToken = "[REDACTED]"

// Redacted returns a copy that is safe to log or print: the cluster key is
// replaced (an empty key stays empty, so "no key configured" stays visible).
func (c Config) Redacted() Config {
	if c.AuthToken != "" {
		c.AuthToken = redactedToken
	}
	c.Network.StaticPeers = append([]string(nil), c.Network.StaticPeers...)
	c.Security.LegacyPeers = append([]string(nil), c.Security.LegacyPeers...)
	return c
}

// String renders the redacted configuration as JSON in the file's shape, so
// fmt's %v and %s never print the cluster key.
func (c Config) String() string {
	b, err := json.Marshal(map[string]Config{Section: c.Redacted()})
	if err != nil { // cannot happen: the tree holds only strings, ints, bools
		return fmt.Sprintf("config: %v", err)
	}
	return string(b)
}

// GoString keeps %#v from printing the cluster key too.
func (c Config) GoString() string { return "config.Config" + c.String() }
