package app

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// EngineOptions configures a SyncEngine. Zero values take the defaults noted.
type EngineOptions struct {
	// NodeID is this node's id (the author of its local entries).
	NodeID string
	// Interval between anti-entropy rounds (Sync.IntervalMs; default 5 s).
	Interval time.Duration
	// Fanout is the number of peers per round (Sync.Fanout; default 3).
	Fanout int
	// BatchSize is the number of entries per pushed page (default 1000).
	BatchSize int
	// StaticPeers are host:port addresses always considered.
	StaticPeers []string

	// GossipFanout bounds the peers a local commit is pushed to at once
	// (default 16).
	GossipFanout int
	// GossipQueue bounds the local entries waiting to be gossiped
	// (default 10,000); beyond it a round replaces the push.
	GossipQueue int
	// GossipLockWait bounds how long a gossip push waits for a round in
	// progress with the same peer (default 1 s).
	GossipLockWait time.Duration
	// VectorClockTimeout bounds the v5 probe: a peer that does not answer a
	// vector-clock request within it is treated as v4 (default 2 s).
	VectorClockTimeout time.Duration
	// LegacyRecheck is how long a peer found to be v4 is spoken to as v4
	// before v5 is tried again (default 5 min).
	LegacyRecheck time.Duration
	// LegacyFullPull is how often a v4 peer is pulled from the beginning of
	// time (default 10 min; see roundV4 for why).
	LegacyFullPull time.Duration
	// MaxPushBytes caps one PushChanges request in bytes (default 4 MiB;
	// keep it well under Network.MaxFrameBytes, e.g. half).
	MaxPushBytes int
}

func (o EngineOptions) withDefaults() EngineOptions {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Fanout <= 0 {
		o.Fanout = 3
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultSyncBatchSize
	}
	if o.GossipFanout <= 0 {
		o.GossipFanout = 16
	}
	if o.GossipQueue <= 0 {
		o.GossipQueue = 10_000
	}
	if o.GossipLockWait <= 0 {
		o.GossipLockWait = time.Second
	}
	if o.VectorClockTimeout <= 0 {
		o.VectorClockTimeout = 2 * time.Second
	}
	if o.LegacyRecheck <= 0 {
		o.LegacyRecheck = 5 * time.Minute
	}
	if o.LegacyFullPull <= 0 {
		o.LegacyFullPull = 10 * time.Minute
	}
	if o.MaxPushBytes <= 0 {
		o.MaxPushBytes = DefaultMaxPageBytes
	}
	return o
}

// EngineStats are the engine's counters since it was built.
type EngineStats struct {
	Rounds, FailedRounds         int64
	EntriesPulled, EntriesPushed int64
	EntriesRejected              int64
	BytesIn, BytesOut            int64
	Snapshots                    int64
	GossipPushes, GossipOverflow int64
}

type engineCounters struct {
	rounds, failedRounds          atomic.Int64
	entriesPulled, entriesPushed  atomic.Int64
	entriesRejected               atomic.Int64
	bytesIn, bytesOut             atomic.Int64
	snapshots                     atomic.Int64
	gossipPushes, gossipOverflows atomic.Int64
}

// SyncEngine drives synchronisation: anti-entropy rounds with a few peers
// every Interval, and an immediate push of every local commit (gossip).
type SyncEngine struct {
	db          *Database
	store       ports.Store
	snapshotter ports.Snapshotter // nil when the store cannot make snapshots
	dialer      ports.PeerDialer
	exec        ports.Executor
	discovery   ports.Discovery
	queue       *OfflineQueue
	status      *StatusTracker
	clock       *domain.Clock
	logger      *zap.Logger
	opts        EngineOptions

	mu      sync.Mutex
	running bool
	// live mirrors running for LocalCommitted, which runs under the
	// database's write lock and so must not take mu: Start holds mu while
	// it waits for that write lock (SetChangeSink).
	live     atomic.Bool
	cancel   context.CancelFunc
	peerSems map[string]chan struct{}
	legacy   map[string]*legacyPeer
	nodeIDs  map[string]string // address → node id learned in a handshake

	wg     sync.WaitGroup
	gossip *gossipBuffer
	kick   chan struct{}
	queued atomic.Bool // the offline queue may hold something
	// queueFull is set when the offline queue refused a change: later
	// changes skip it (they would be refused too) until a flush makes room.
	// Anti-entropy carries them: the oplog is the source of truth.
	queueFull atomic.Bool
	stats     engineCounters
}

var _ ChangeSink = (*SyncEngine)(nil)

// NewSyncEngine builds an engine; nothing runs before Start. discovery,
// queue, status and logger may be nil.
func NewSyncEngine(db *Database, store ports.Store, dialer ports.PeerDialer, exec ports.Executor,
	discovery ports.Discovery, queue *OfflineQueue, status *StatusTracker, clock *domain.Clock,
	logger *zap.Logger, opts EngineOptions) (*SyncEngine, error) {
	const op = "app.NewSyncEngine"
	if db == nil || store == nil || dialer == nil || exec == nil || clock == nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "database, store, dialer, executor and clock are required")
	}
	if opts.NodeID == "" {
		opts.NodeID = clock.Node()
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	opts = opts.withDefaults()
	e := &SyncEngine{db: db, store: store, dialer: dialer, exec: exec, discovery: discovery, queue: queue,
		status: status, clock: clock, logger: logger.Named("sync"), opts: opts,
		peerSems: map[string]chan struct{}{}, legacy: map[string]*legacyPeer{}, nodeIDs: map[string]string{},
		gossip: newGossipBuffer(opts.GossipQueue), kick: make(chan struct{}, 1)}
	e.snapshotter, _ = store.(ports.Snapshotter)
	return e, nil
}

// Start plugs the engine into the database's change feed and starts the
// round and gossip loops. They run until Stop: ctx bounds starting only
// (like the node's other components), so a caller's start-up deadline does
// not silently end synchronisation once it passes.
func (e *SyncEngine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return domain.Errorf(domain.CodeInternal, "sync.Start", "the sync engine is already running")
	}
	if e.queue != nil {
		if n, err := e.queue.Len(ctx); err == nil && n > 0 {
			e.queued.Store(true)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel, e.running = cancel, true
	e.live.Store(true)
	e.db.SetChangeSink(e)
	e.wg.Add(2)
	go func() { defer e.wg.Done(); e.roundLoop(runCtx) }()
	go func() { defer e.wg.Done(); e.gossipLoop(runCtx) }()
	return nil
}

// Stop stops the loops and waits for every goroutine of the engine,
// in-flight sessions included (their contexts are cancelled).
func (e *SyncEngine) Stop() error {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return nil
	}
	e.running = false
	e.live.Store(false)
	cancel := e.cancel
	e.mu.Unlock()
	cancel()
	e.wg.Wait()
	return nil
}

// Stats returns the counters (for metrics).
func (e *SyncEngine) Stats() EngineStats {
	c := &e.stats
	return EngineStats{Rounds: c.rounds.Load(), FailedRounds: c.failedRounds.Load(),
		EntriesPulled: c.entriesPulled.Load(), EntriesPushed: c.entriesPushed.Load(),
		EntriesRejected: c.entriesRejected.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Snapshots: c.snapshots.Load(), GossipPushes: c.gossipPushes.Load(), GossipOverflow: c.gossipOverflows.Load()}
}

func (e *SyncEngine) kickRound() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *SyncEngine) roundLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
		}
		e.round(ctx, e.pick(e.opts.Fanout))
	}
}

// SyncNow runs one round with every known peer (breakers open or not) and
// returns the failures joined.
func (e *SyncEngine) SyncNow(ctx context.Context) error {
	return e.round(ctx, e.peers())
}

// round syncs with the targets in parallel, one goroutine per peer, all
// waited for before it returns.
func (e *SyncEngine) round(ctx context.Context, targets []peerTarget) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { errs[i] = e.syncPeer(ctx, t) })
	}
	wg.Wait()
	if len(targets) > 0 && ctx.Err() == nil {
		ok := false
		for _, err := range errs {
			ok = ok || err == nil
		}
		e.setOnline(ok)
	}
	return errors.Join(errs...)
}

// roundResult is what one session with a peer did.
type roundResult struct {
	level             string // "v5", "v4" or "pull-only"
	pulled, applied   int
	pushed, rejected  int
	bytesIn, bytesOut int64
	snapshot          bool
}

// syncPeer runs one session with a peer and records the outcome.
func (e *SyncEngine) syncPeer(ctx context.Context, t peerTarget) error {
	release, err := e.acquire(ctx, t.addr)
	if err != nil {
		return err
	}
	defer release()
	// No retry around the round: the dialer runs each dial and request
	// through the executor already (retries, the peer's breaker); a round
	// that fails is simply tried again at the next interval.
	var res roundResult
	err = e.syncSession(ctx, &t, &res)
	if ctx.Err() != nil && err != nil {
		return err // stopping: not the peer's fault
	}
	e.stats.rounds.Add(1)
	e.stats.entriesPulled.Add(int64(res.applied))
	e.stats.entriesPushed.Add(int64(res.pushed))
	e.stats.entriesRejected.Add(int64(res.rejected))
	e.stats.bytesIn.Add(res.bytesIn)
	e.stats.bytesOut.Add(res.bytesOut)
	if e.status != nil {
		e.status.RecordTransfer(res.bytesIn, res.bytesOut)
	}
	if err != nil {
		e.stats.failedRounds.Add(1)
		e.logger.Debug("sync round failed", zap.String("peer", t.addr), zap.Error(err))
		e.recordFailure(t, err)
		return domain.Wrap(domain.CodeSync, "sync.round "+t.addr, err)
	}
	e.logger.Debug("sync round done", zap.String("peer", t.addr), zap.String("node", t.nodeID),
		zap.String("level", res.level), zap.Int("applied", res.applied), zap.Int("pushed", res.pushed),
		zap.Int("rejected", res.rejected), zap.Bool("snapshot", res.snapshot))
	e.recordSuccess(t, res)
	return nil
}
