package ports

// The status and health reports the app produces and the driving adapters
// (HTTP API, CLI) render. They live here, not in app/, so adapters can use
// them without importing app/. JSON names are the HTTP contract.

// PeerStatus is what the status tracker knows of one peer.
type PeerStatus struct {
	NodeID          string `json:"node_id"`
	Address         string `json:"address"`
	Source          string `json:"source"`
	Connected       bool   `json:"connected"`
	LastSeen        int64  `json:"last_seen"` // Unix ms, 0 = never
	SuccessfulSyncs int64  `json:"successful_syncs"`
	FailedSyncs     int64  `json:"failed_syncs"`
	// Refused counts the peer's entries we refused since start, by cause
	// (clock_drift, invalid_argument, ...); LastRefused is when the latest
	// was (Unix ms, 0 = never).
	Refused     map[string]int64 `json:"refused,omitempty"`
	LastRefused int64            `json:"last_refused,omitempty"`
	// ConsecutiveFailures counts the replication attempts with the peer
	// (rounds, and rounds whose push it did not apply) that failed since the
	// last one that fully worked; FailingSince is when the first of them
	// failed (Unix ms, 0 = not failing) and LastError why the latest did.
	ConsecutiveFailures int64  `json:"consecutive_failures,omitempty"`
	FailingSince        int64  `json:"failing_since,omitempty"`
	LastError           string `json:"last_error,omitempty"`
	// Unreachable: the latest failure was the peer not answering (a network
	// error or a timeout), as when it is switched off; an offline-first
	// node expects that, so it is listed but never makes the node unhealthy.
	Unreachable bool `json:"unreachable,omitempty"`
}

// ErrorRecord is one recent error.
type ErrorRecord struct {
	Time    int64  `json:"time"` // Unix ms
	Code    string `json:"code"`
	Message string `json:"message"`
	Peer    string `json:"peer,omitempty"`
}

// CacheReport is the cache statistics as shown to users.
type CacheReport struct {
	Hits      int64   `json:"hits"`
	Misses    int64   `json:"misses"`
	Evictions int64   `json:"evictions"`
	Entries   int     `json:"entries"`
	Bytes     int64   `json:"bytes"`
	MaxBytes  int64   `json:"max_bytes"`
	HitRate   float64 `json:"hit_rate"`
}

// SyncStatus is the answer of GET /v1/status.
type SyncStatus struct {
	NodeID             string        `json:"node_id"`
	Online             bool          `json:"online"`
	LastSuccessfulSync int64         `json:"last_sync"` // Unix ms, 0 = never
	Peers              []PeerStatus  `json:"peers"`
	RecentErrors       []ErrorRecord `json:"recent_errors"`
	DocumentsSynced    int64         `json:"documents_synced"`
	BytesSynced        int64         `json:"bytes_synced"`
	OfflineQueueLen    int           `json:"offline_queue_length"`
	Cache              CacheReport   `json:"cache"`
	Storage            StorageReport `json:"storage"`
}

// StorageReport is what the store holds and what maintenance last did
// (app/maintenance.go).
type StorageReport struct {
	OplogEntries int64 `json:"oplog_entries"`
	// Tombstones counts deleted documents' rows: deletes still in the
	// oplog and the markers collected ones leave.
	Tombstones int64 `json:"tombstones"`
	// DiskBytes is the database file plus its WAL (0 in memory).
	DiskBytes int64 `json:"disk_bytes"`
	// LastMaintenance is when the last pass ended (Unix ms, 0 = none yet);
	// LastRemoved what it removed.
	LastMaintenance int64            `json:"last_maintenance"`
	LastRemoved     CompactionResult `json:"last_removed"`
	// EntriesRemoved and TombstonesRemoved count since start.
	EntriesRemoved    int64 `json:"entries_removed_total"`
	TombstonesRemoved int64 `json:"tombstones_removed_total"`
	// CompactionOff says why passes remove nothing (a resolver that
	// replays history); empty when they compact.
	CompactionOff string `json:"compaction_off,omitempty"`
}

// HealthReport is the answer of GET /healthz.
type HealthReport struct {
	IsHealthy       bool     `json:"is_healthy"`
	DatabaseHealthy bool     `json:"database_healthy"`
	NetworkHealthy  bool     `json:"network_healthy"`
	ConnectedPeers  int      `json:"connected_peers"`
	LastSync        int64    `json:"last_sync"` // Unix ms, 0 = never
	Errors          []string `json:"errors"`
	// OpenCluster is true when the node runs without a cluster secret
	// (Security.OpenCluster): a deliberate setting, so not unhealthy, but
	// listed in Warnings.
	OpenCluster bool `json:"open_cluster"`
	// HandshakesRefused counts the sync connections refused since start
	// (wrong key, unknown identity, legacy handshake not allowed, ...).
	HandshakesRefused int64 `json:"handshakes_refused"`
	// InsecureHTTP is true when the HTTP API serves plain HTTP on a
	// non-loopback address (Http.AllowInsecure): deliberate, so not
	// unhealthy, but listed in Warnings.
	InsecureHTTP bool     `json:"insecure_http,omitempty"`
	Warnings     []string `json:"warnings"`
	// ReplicationStuck is true while some peer has failed to replicate
	// with us for longer than the health check's bound (the peer is listed
	// in Errors); it makes IsHealthy false.
	ReplicationStuck bool `json:"replication_stuck,omitempty"`
}
