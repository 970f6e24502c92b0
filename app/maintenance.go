package app

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// MaintenanceStore is what maintenance needs from the store: compaction,
// the node's own vector clock, and (optional, type-asserted) its stats
// and space reclaiming.
type MaintenanceStore interface {
	ports.Compactor
	VectorClock(ctx context.Context) (domain.VectorClock, error)
}

// SpaceReclaimer gives the space removed rows leave back to the disk; a
// store that has a file implements it.
type SpaceReclaimer interface {
	ReclaimSpace(ctx context.Context) (int64, error)
}

// MaintenanceObserver is told of each pass (the metrics).
type MaintenanceObserver interface {
	MaintenancePass(at time.Time, res ports.CompactionResult, st ports.StorageStats)
}

// MaintenanceOptions configure Maintenance (the Maintenance section).
type MaintenanceOptions struct {
	// Interval between passes (<= 0: domain.DefaultMaintenanceInterval).
	Interval time.Duration
	// OplogRetention and TombstoneRetention (<= 0: the domain defaults;
	// see domain.CompactionPolicy).
	OplogRetention, TombstoneRetention time.Duration
	// Resolver is the node's: a resolver that replays history turns
	// compaction off (domain.ReplaysHistory).
	Resolver domain.Resolver
	// Peers lists the peer book (discovered peers; nil: none): each is a
	// known peer from the first pass that sees it.
	Peers func() []domain.Peer
	// Observer is told of each pass (nil: none).
	Observer MaintenanceObserver
	// Compacted is called after a pass that removed entries (nil: none):
	// the offline queue's running count included some (OfflineQueue.Recount).
	Compacted func()
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// Self is the node's own id (domain.CompactionPolicy.Self).
	Self string
}

// Maintenance is the background pass that keeps a long-lived node's
// database bounded: it compacts the oplog by the rule of
// domain.CompactionPolicy (what every known peer holds, the retentions),
// gives the freed space back to the disk, and records what it did for
// status and metrics.
type Maintenance struct {
	store  MaintenanceStore
	clocks *PeerClocks
	opts   MaintenanceOptions
	log    *zap.Logger
	off    string // why passes remove nothing; "" when they compact

	passMu sync.Mutex // one pass at a time

	mu     sync.Mutex
	report ports.StorageReport
	statAt time.Time

	loop loop
}

// NewMaintenance returns the maintenance of store; clocks says what peers
// hold.
func NewMaintenance(store MaintenanceStore, clocks *PeerClocks, opts MaintenanceOptions, logger *zap.Logger) *Maintenance {
	if logger == nil {
		logger = zap.NewNop()
	}
	if opts.Interval <= 0 {
		opts.Interval = domain.DefaultMaintenanceInterval
	}
	if opts.OplogRetention <= 0 {
		opts.OplogRetention = domain.DefaultOplogRetention
	}
	if opts.TombstoneRetention <= 0 {
		opts.TombstoneRetention = domain.DefaultTombstoneRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Maintenance{store: store, clocks: clocks, opts: opts, log: logger}
	if opts.Resolver != nil && domain.ReplaysHistory(opts.Resolver) {
		m.off = "the " + opts.Resolver.Name() + " resolver replays whole histories"
	}
	m.report.CompactionOff = m.off
	return m
}

// Name implements Component.
func (m *Maintenance) Name() string { return "maintenance" }

// Start implements Component: passes run every Interval, the first one
// Interval after start (a node starting does enough work already).
func (m *Maintenance) Start(context.Context) error {
	if m.off != "" {
		m.log.Info("oplog compaction is off; every entry is kept", zap.String("reason", m.off))
	}
	m.loop.start(func(ctx context.Context) {
		tickEvery(ctx, m.opts.Interval, func(ctx context.Context) {
			if _, err := m.RunOnce(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("maintenance pass failed", zap.Error(err))
			}
		})
	})
	return nil
}

// Stop implements Component: it cancels a running pass (each of its
// transactions is whole) and waits for the loop.
func (m *Maintenance) Stop(ctx context.Context) error {
	return m.loop.stop(ctx, "maintenance.Stop")
}

// RunOnce runs one pass now and returns what it removed.
func (m *Maintenance) RunOnce(ctx context.Context) (ports.CompactionResult, error) {
	const op = "maintenance.RunOnce"
	m.passMu.Lock()
	defer m.passMu.Unlock()
	now := m.opts.Now()
	var res ports.CompactionResult
	if m.off == "" {
		own, err := m.store.VectorClock(ctx)
		if err != nil {
			return res, domain.Wrap(domain.CodePersistence, op, err)
		}
		if m.opts.Peers != nil {
			var ids []string
			for _, p := range m.opts.Peers() {
				ids = append(ids, p.NodeID)
			}
			m.clocks.Notice(ids, now)
		}
		policy := domain.CompactionPolicy{
			HeldByAll:          m.clocks.HeldByAll(own, now, m.opts.OplogRetention),
			Now:                now.UnixMilli(),
			OplogRetention:     m.opts.OplogRetention,
			TombstoneRetention: m.opts.TombstoneRetention,
			Self:               m.opts.Self,
		}
		if err := m.clocks.Save(ctx); err != nil {
			m.log.Warn("could not save the peer clocks", zap.Error(err))
		}
		res, err = m.store.Compact(ctx, policy)
		m.record(res) // what was removed is gone, even if a later batch failed
		if res.EntriesRemoved > 0 && m.opts.Compacted != nil {
			m.opts.Compacted()
		}
		if err != nil {
			return res, domain.Wrap(domain.CodePersistence, op, err)
		}
	}
	var freed int64
	if r, ok := m.store.(SpaceReclaimer); ok {
		var err error
		if freed, err = r.ReclaimSpace(ctx); err != nil {
			m.log.Warn("could not give free space back to the disk", zap.Error(err))
		}
	}
	st := m.refreshStats(ctx, true)
	m.mu.Lock()
	m.report.LastMaintenance = m.opts.Now().UnixMilli()
	m.mu.Unlock()
	if m.opts.Observer != nil {
		m.opts.Observer.MaintenancePass(m.opts.Now(), res, st)
	}
	if res.EntriesRemoved > 0 || freed > 0 {
		m.log.Info("maintenance pass",
			zap.Int("entries_removed", res.EntriesRemoved), zap.Int("tombstones_removed", res.TombstonesRemoved),
			zap.Int64("bytes_removed", res.BytesRemoved), zap.Int64("disk_bytes_freed", freed),
			zap.Int64("oplog_entries", st.OplogEntries), zap.Int64("disk_bytes", st.DiskBytes),
			zap.Duration("took", m.opts.Now().Sub(now)))
	}
	return res, nil
}

func (m *Maintenance) record(res ports.CompactionResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.report.LastRemoved = res
	m.report.EntriesRemoved += int64(res.EntriesRemoved)
	m.report.TombstonesRemoved += int64(res.TombstonesRemoved)
}

// statsMaxAge bounds how stale Report's counts may be: counting the oplog
// is a scan, too much for every status request.
const statsMaxAge = 10 * time.Second

// refreshStats reads the store's stats when they are older than
// statsMaxAge (always with force) and returns the latest.
func (m *Maintenance) refreshStats(ctx context.Context, force bool) ports.StorageStats {
	m.mu.Lock()
	fresh := !force && m.opts.Now().Sub(m.statAt) < statsMaxAge
	cur := ports.StorageStats{OplogEntries: m.report.OplogEntries, Tombstones: m.report.Tombstones, DiskBytes: m.report.DiskBytes}
	m.mu.Unlock()
	r, ok := m.store.(ports.StorageReporter)
	if fresh || !ok {
		return cur
	}
	st, err := r.StorageStats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("could not read the storage stats", zap.Error(err))
		}
		return cur
	}
	m.mu.Lock()
	m.report.OplogEntries, m.report.Tombstones, m.report.DiskBytes = st.OplogEntries, st.Tombstones, st.DiskBytes
	m.statAt = m.opts.Now()
	m.mu.Unlock()
	return st
}

// Report is what the store holds and what maintenance did, for status.
func (m *Maintenance) Report(ctx context.Context) ports.StorageReport {
	m.refreshStats(ctx, false)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.report
}
