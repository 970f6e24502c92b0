package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Interval between anti-entropy rounds (Sync.IntervalMs; default
	// domain.DefaultSyncInterval).
	Interval time.Duration
	// Fanout is the number of peers per round (Sync.Fanout; default
	// domain.DefaultSyncFanout).
	Fanout int
	// BatchSize is the number of entries per pushed page (Sync.BatchSize;
	// default domain.DefaultSyncBatchSize).
	BatchSize int
	// StaticPeers are host:port addresses always considered.
	StaticPeers []string

	// GossipFanout bounds the peers a local commit is pushed to at once
	// (default 16).
	GossipFanout int
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
	// MaxPushBytes caps one PushChanges request in bytes (default
	// domain.DefaultMaxPageBytes; keep it well under Network.MaxFrameBytes,
	// e.g. half).
	MaxPushBytes int
	// Identity is the node's identity key, which signs the entries it
	// authors (the one the handshake proves; nil: a key generated for the
	// Database, shared with a SyncService given none).
	Identity ed25519.PrivateKey
	// AcceptLegacy: this node has a legacy opt-in (Security.LegacyPeers),
	// so entries a Go peer sends marked legacy may be taken unproven.
	AcceptLegacy bool
}

func (o EngineOptions) withDefaults() EngineOptions {
	if o.Interval <= 0 {
		o.Interval = domain.DefaultSyncInterval
	}
	if o.Fanout <= 0 {
		o.Fanout = domain.DefaultSyncFanout
	}
	if o.BatchSize <= 0 {
		o.BatchSize = domain.DefaultSyncBatchSize
	}
	if o.GossipFanout <= 0 {
		o.GossipFanout = 16
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
		o.MaxPushBytes = domain.DefaultMaxPageBytes
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
// every Interval, at start and with each peer that appears
// (sync_schedule.go), and an immediate push of every local commit (gossip).
type SyncEngine struct {
	db          *Database
	store       ports.Store
	snapshotter ports.Snapshotter // nil when the store cannot make snapshots
	dialer      ports.PeerDialer
	exec        ports.Executor
	discovery   ports.Discovery
	queue       *OfflineQueue // nil: none
	clocks      *PeerClocks
	status      *StatusTracker
	clock       *domain.Clock
	logger      *zap.Logger
	outbox      *Outbox // nil: no gossip
	opts        EngineOptions

	mu       sync.Mutex
	running  bool
	cancel   context.CancelFunc
	peerSems map[string]chan struct{}
	legacy   map[string]*legacyPeer
	nodeIDs  map[string]string // address → node id learned in a handshake

	wg       sync.WaitGroup
	kick     chan struct{}
	stats    engineCounters
	refusals *refusalReporter
	authors  *authors
	// fileRefusals: peers whose file snapshot failed (sync_file_snapshot.go).
	fileRefusals fileRefusals
	// tooLarge: family peers pulled from collection by collection
	// (sync_legacy_session.go).
	tooLarge tooLargePeers
}

// SyncEngineDeps are the collaborators of a SyncEngine.
type SyncEngineDeps struct {
	// Database applies what peers send (required).
	Database *Database
	// Store is read for our oplog, vector clock and heads (required); when
	// it is also a ports.Snapshotter, peers' snapshots can bootstrap us.
	Store ports.Store
	// Dialer opens sessions to peers (required).
	Dialer ports.PeerDialer
	// Executor reports which peers' circuit breakers are open (required).
	Executor ports.Executor
	// Clock checks peers' stamps for drift (required).
	Clock *domain.Clock
	// Outbox brings local commits to gossip: the one given to the Database
	// through DatabaseOptions.Outbox (optional: nil means no gossip, for an
	// engine that only runs rounds; local commits then reach peers through
	// rounds).
	Outbox *Outbox
	// Discovery lists peers found by broadcast (optional: nil means the
	// static peers only).
	Discovery ports.Discovery
	// PeerClocks records what peers confirm holding (optional: nil keeps
	// them in memory only); give the Queue's.
	PeerClocks *PeerClocks
	// Queue counts the local changes no peer has confirmed; the engine
	// refreshes it after every round (optional: nil counts nothing).
	Queue *OfflineQueue
	// Status records peers' state and errors (optional: nil records nothing).
	Status *StatusTracker
	// Logger (optional: nil logs nothing).
	Logger *zap.Logger
}

func (d SyncEngineDeps) validate() error {
	var missing []string
	for name, ok := range map[string]bool{"Database": d.Database != nil, "Store": d.Store != nil,
		"Dialer": d.Dialer != nil, "Executor": d.Executor != nil, "Clock": d.Clock != nil} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("required: %s", strings.Join(missing, ", "))
	}
	if d.Outbox != nil && d.Database.outbox != d.Outbox {
		// Local commits would go to an outbox nobody drains.
		return errors.New("the Outbox must be the one the Database was built with (DatabaseOptions.Outbox)")
	}
	return nil
}

// NewSyncEngine builds an engine; nothing runs before Start.
func NewSyncEngine(deps SyncEngineDeps, opts EngineOptions) (*SyncEngine, error) {
	const op = "app.NewSyncEngine"
	if err := deps.validate(); err != nil {
		return nil, domain.Wrap(domain.CodeConfig, op, err)
	}
	if opts.NodeID == "" {
		opts.NodeID = deps.Clock.Node()
	}
	logger := deps.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	e := &SyncEngine{db: deps.Database, store: deps.Store, dialer: deps.Dialer, exec: deps.Executor,
		discovery: deps.Discovery, queue: deps.Queue, status: deps.Status, clock: deps.Clock,
		logger: logger.Named("sync"), outbox: deps.Outbox, opts: opts.withDefaults(),
		peerSems: map[string]chan struct{}{}, legacy: map[string]*legacyPeer{}, nodeIDs: map[string]string{},
		kick: make(chan struct{}, 1)}
	e.snapshotter, _ = deps.Store.(ports.Snapshotter)
	if e.clocks = deps.PeerClocks; e.clocks == nil {
		e.clocks = NewPeerClocks(nil)
	}
	e.refusals = newRefusalReporter(e.logger, e.status)
	au, err := newAuthors(deps.Store, opts.NodeID, deps.Database.syncIdentity(opts.Identity), opts.AcceptLegacy)
	if err != nil {
		return nil, domain.Wrap(domain.CodeConfig, op, err)
	}
	e.authors = au
	return e, nil
}

// Name implements Component.
func (*SyncEngine) Name() string { return "sync engine" }

// Start starts the round loop and, with an Outbox, opens it and starts the
// gossip loop. They run until Stop: ctx bounds starting only (like the node's
// other components), so a caller's start-up deadline does not silently end
// synchronisation once it passes.
func (e *SyncEngine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return domain.Errorf(domain.CodeInternal, "sync.Start", "the sync engine is already running")
	}
	if err := e.clocks.Load(ctx); err != nil {
		// Only the queue's length suffers: peers confirm again at the next round.
		e.logger.Warn("could not read what peers confirmed holding", zap.Error(err))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel, e.running = cancel, true
	e.wg.Go(func() { e.roundLoop(runCtx) })
	if e.outbox != nil {
		e.outbox.setOpen(true)
		e.wg.Go(func() { e.gossipLoop(runCtx) })
	}
	return nil
}

// Stop stops the loops and waits, within ctx, for every goroutine of the
// engine, in-flight sessions included (their contexts are cancelled).
func (e *SyncEngine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return nil
	}
	e.running = false
	if e.outbox != nil {
		e.outbox.setOpen(false)
	}
	cancel := e.cancel
	e.mu.Unlock()
	cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return domain.Errorf(domain.CodeTimeout, "sync.Stop", "sessions still running: %w", ctx.Err())
	}
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

// afterRound keeps what peers confirmed and refreshes the offline queue.
func (e *SyncEngine) afterRound(ctx context.Context) {
	if err := e.clocks.Save(ctx); err != nil && ctx.Err() == nil {
		e.logger.Warn("could not keep what peers confirmed holding", zap.Error(err))
	}
	if e.queue != nil {
		e.queue.Check(ctx)
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
	pushRefused       error // the peer did not apply a push of ours (the last reason)
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
	began := time.Now()
	err = e.syncSession(ctx, &t, &res)
	if ctx.Err() != nil && err != nil {
		return err // stopping: not the peer's fault
	}
	e.roundObserver().SyncRoundTook(time.Since(began), err == nil)
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
