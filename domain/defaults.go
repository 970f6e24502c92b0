package domain

import "time"

// Defaults shared by the configuration and the components that fall back to
// them when built without one: each setting's default is declared here once
// (adapters/config.Default reads these; a component's zero value means the same).
const (
	// DefaultSyncBatchSize is Sync.BatchSize: entries per sync page and per
	// ApplyRemote transaction.
	DefaultSyncBatchSize = 1000
	// DefaultSyncInterval is Sync.IntervalMs: time between anti-entropy rounds.
	DefaultSyncInterval = 2 * time.Second
	// DefaultSyncFanout is Sync.Fanout: peers per anti-entropy round.
	DefaultSyncFanout = 3
	// DefaultMaxPageBytes caps one sync page or push in bytes, well under the
	// frame limit (adapters/protocol.DefaultMaxFrameBytes).
	DefaultMaxPageBytes = 4 << 20
)
