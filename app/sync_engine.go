package app

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sort"
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

// legacyPeer remembers a peer that spoke only v4.
type legacyPeer struct {
	until        time.Time // speak v4 until then, then probe v5 again
	lastFullPull time.Time
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

// peerTarget is a peer as the engine addresses it.
type peerTarget struct {
	addr   string
	nodeID string // "" until known
	source domain.PeerSource
}

// peers lists discovered and static peers, one per address, never ourselves.
func (e *SyncEngine) peers() []peerTarget {
	seen := map[string]bool{}
	var out []peerTarget
	if e.discovery != nil {
		for _, p := range e.discovery.Peers() {
			if p.NodeID == e.opts.NodeID || p.Address == "" || seen[p.Address] {
				continue
			}
			seen[p.Address] = true
			src := p.Source
			if src == "" {
				src = domain.PeerDiscovered
			}
			out = append(out, peerTarget{addr: p.Address, nodeID: p.NodeID, source: src})
		}
	}
	for _, a := range e.opts.StaticPeers {
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, peerTarget{addr: a, source: domain.PeerStatic})
	}
	e.mu.Lock()
	for i := range out {
		if out[i].nodeID == "" {
			out[i].nodeID = e.nodeIDs[out[i].addr]
		}
	}
	e.mu.Unlock()
	return out
}

// learnNodeID remembers which node answers at addr, so failures to reach
// it later are counted against it.
func (e *SyncEngine) learnNodeID(addr, nodeID string) {
	if nodeID == "" {
		return
	}
	e.mu.Lock()
	e.nodeIDs[addr] = nodeID
	e.mu.Unlock()
}

// pick chooses up to n peers at random (n <= 0: all), skipping those whose
// circuit breaker is open.
func (e *SyncEngine) pick(n int) []peerTarget {
	all := e.peers()
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	out := all[:0]
	for _, t := range all {
		if n > 0 && len(out) == n {
			break
		}
		if !e.exec.BreakerOpen(t.addr) {
			out = append(out, t)
		}
	}
	return out
}

// acquire takes the peer's session slot: one session per peer at a time.
func (e *SyncEngine) acquire(ctx context.Context, addr string) (func(), error) {
	e.mu.Lock()
	sem, ok := e.peerSems[addr]
	if !ok {
		sem = make(chan struct{}, 1)
		e.peerSems[addr] = sem
	}
	e.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, domain.Wrap(domain.CodeTimeout, "sync.acquire", ctx.Err())
	}
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

var (
	errNoVectorClock = errors.New("peer did not answer a vector-clock request")
	errNoClock       = errors.New("peer did not answer a clock request")
)

// syncSession opens a session and runs the best round the peer speaks: v5,
// else v4, else pull-only. Each fallback uses a fresh session, since a peer
// that did not understand a request may have closed the connection.
func (e *SyncEngine) syncSession(ctx context.Context, t *peerTarget, res *roundResult) error {
	var cur ports.PeerSession
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	redial := func() error {
		if cur != nil {
			cur.Close()
			cur = nil
		}
		s, err := e.dialer.Dial(ctx, t.addr)
		if err != nil {
			return err
		}
		cur = s
		return nil
	}
	if err := redial(); err != nil {
		return err
	}
	t.nodeID = cur.PeerID()
	e.learnNodeID(t.addr, t.nodeID)
	e.flushQueue(ctx, cur)

	legacy := e.legacyState(t.addr)
	if legacy == nil {
		err := e.roundV5(ctx, cur, res)
		if errors.Is(err, errNoVectorClock) {
			// A pooled session may have been cut by the peer meanwhile: ask
			// once more on a fresh connection before deciding it is v4.
			if err := redial(); err != nil {
				return err
			}
			err = e.roundV5(ctx, cur, res)
		}
		if !errors.Is(err, errNoVectorClock) {
			return err
		}
		e.logger.Info("peer does not speak v5; falling back to v4", zap.String("peer", t.addr), zap.Error(err))
		if err := redial(); err != nil {
			return err
		}
		legacy = e.markLegacy(t.addr)
	}
	err := e.roundV4(ctx, cur, legacy, res)
	if !errors.Is(err, errNoClock) {
		return err
	}
	e.logger.Info("peer answers no clock request; pulling only", zap.String("peer", t.addr), zap.Error(err))
	if err := redial(); err != nil {
		return err
	}
	return e.roundPullOnly(ctx, cur, legacy, res)
}

func (e *SyncEngine) legacyState(addr string) *legacyPeer {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.legacy[addr]
	if l == nil || time.Now().After(l.until) {
		return nil
	}
	return l
}

func (e *SyncEngine) markLegacy(addr string) *legacyPeer {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.legacy[addr]
	if l == nil {
		l = &legacyPeer{}
		e.legacy[addr] = l
	}
	l.until = time.Now().Add(e.opts.LegacyRecheck)
	return l
}

// roundV5 is the anti-entropy round of PROTOCOL.md §3.5: exchange vector
// clocks; pull the authors the peer is ahead on, push those we are ahead on.
// A round with a peer already in sync costs one request.
func (e *SyncEngine) roundV5(ctx context.Context, s ports.PeerSession, res *roundResult) error {
	res.level = "v5"
	vcCtx, cancel := context.WithTimeout(ctx, e.opts.VectorClockTimeout)
	theirVC, err := s.GetVectorClock(vcCtx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errNoVectorClock, err)
	}
	theirVC = normalizeVC(theirVC)
	st, err := e.newPullState(ctx, s.PeerID())
	if err != nil {
		return err
	}
	pull, push := st.vc.Delta(theirVC)
	pull = e.dropSkewed(st.peer, pull, theirVC, res)
	var pullErr error
	if len(pull) > 0 {
		// A gap left unfilled does not stop the push: the peer may still
		// take what we have.
		if pullErr = e.pullV5(ctx, s, st, pull, theirVC, res); pullErr != nil && !isGap(pullErr) {
			return pullErr
		}
	}
	for _, author := range push {
		if err := e.pushAuthor(ctx, s, author, theirVC[author], res); err != nil {
			return err
		}
	}
	return pullErr
}

// dropSkewed leaves out of a pull the authors whose newest stamp is beyond
// MaxClockDrift: that entry would be refused, and every later one could not
// link past it, so pulling them would only re-read the peer's oplog from
// where we stand on that author, every round. It is reported instead (an
// author's older, acceptable entries then wait until its stamps are in
// range).
func (e *SyncEngine) dropSkewed(peer string, pull []string, theirVC domain.VectorClock, res *roundResult) []string {
	kept := pull[:0:0]
	for _, a := range pull {
		if err := e.clock.CheckDrift(theirVC[a]); err != nil {
			res.rejected++
			e.reportRejected(peer, &domain.Error{Code: domain.CodeSync, Op: "sync.pull",
				Msg: "entries of " + a + " refused", Err: err})
			continue
		}
		kept = append(kept, a)
	}
	return kept
}

// normalizeVC sets every stamp's node to its author: the wire carries the
// author once, as the entry's node_id.
func normalizeVC(vc domain.VectorClock) domain.VectorClock {
	out := make(domain.VectorClock, len(vc))
	for author, ts := range vc {
		ts.Node = author
		out[author] = ts
	}
	return out
}

// pullV5 pulls, for the authors the peer is ahead on, what we lack. The
// protocol has no per-author pull, so it pages through PullChanges from the
// oldest of our stamps for those authors and keeps what links to our
// chains. That never skips an entry: an author's stamps strictly increase in
// (wall, logic), so every entry we lack from author a lies strictly after
// our stamp for a, hence after the minimum (and PullChanges never cuts a
// (wall, logic) group, so a page boundary loses nothing either).
func (e *SyncEngine) pullV5(ctx context.Context, s ports.PeerSession, st *pullState, pull []string,
	theirVC domain.VectorClock, res *roundResult) error {
	since := st.vc[pull[0]]
	for _, a := range pull[1:] {
		if st.vc[a].Before(since) {
			since = st.vc[a]
		}
	}
	caughtUp := func() bool {
		for _, a := range pull {
			if theirVC[a].After(st.vc[a]) && !st.poisoned[a] {
				return false
			}
		}
		return true
	}
	err := e.pullFrom(ctx, s, st, since, true, caughtUp, res)
	if err != nil || caughtUp() || st.snapshot || e.snapshotter == nil {
		return err
	}
	if st.tainted {
		return gapError("") // what is missing may be what we refused
	}
	// The peer is ahead on an author but served nothing that links: it no
	// longer has that history (pruned, or it bootstrapped itself).
	if err := e.bootstrap(ctx, s, st, res); err != nil {
		return err
	}
	if !caughtUp() {
		for _, a := range pull {
			if theirVC[a].After(st.vc[a]) && !st.poisoned[a] {
				return gapError(a)
			}
		}
	}
	return nil
}

// pullFrom pages through the peer's PullChanges from since, applying what
// links, until a page is empty, stop says so, or the cursor stops moving.
// The next page is requested while the current one is applied (the
// session is locked so requests still strictly alternate with responses,
// e.g. when a gap needs a chain range meanwhile); each prefetch is received
// before pullFrom returns, so no goroutine outlives it.
func (e *SyncEngine) pullFrom(ctx context.Context, s ports.PeerSession, st *pullState, since domain.Timestamp,
	recover bool, stop func() bool, res *roundResult) error {
	ls := &lockedSession{PeerSession: s}
	type fetched struct {
		page    []domain.Entry
		checked checkedPage
		err     error
	}
	// The fetching goroutine also checks each entry on its own (hash,
	// drift): that needs nothing of the round's state, and it keeps the
	// applying goroutine, the slower stage, to linking and storing.
	fetch := func(since domain.Timestamp) <-chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			page, err := ls.PullChanges(ctx, ports.PullRequest{Since: since})
			valid, rejected := validateEntries(e.clock, page)
			ch <- fetched{page, checkedPage{valid, rejected}, err}
		}()
		return ch
	}
	var gapErr error
	next := fetch(since)
	for {
		f := <-next
		next = nil
		if f.err != nil {
			if domain.CodeOf(f.err) != domain.CodeSync {
				return f.err
			}
			if len(f.page) == 0 {
				// Nothing of the page converted: the cursor cannot move past
				// it. Stop pulling from this peer this round.
				res.rejected++
				e.reportRejected(st.peer, f.err)
				return gapError("")
			}
			// Some entries of the page did not convert (unknown operation,
			// invalid JSON): they are refused, the rest flows. Their
			// authors' chains now have holes that no range or snapshot
			// from this peer would fill without the same entries, so this
			// round recovers no gaps.
			res.rejected++
			e.reportRejected(st.peer, f.err)
			st.tainted = true
		}
		page := f.page
		if len(page) == 0 {
			break
		}
		last := page[len(page)-1].Stamp
		progressed := groupAfter(last, since) // else stop rather than loop
		if progressed {
			since = last
			next = fetch(since)
		}
		res.pulled += len(page)
		res.bytesIn += entriesSize(page)
		if err := e.applyPage(ctx, ls, st, f.checked, recover, res); err != nil {
			if ctx.Err() != nil || !isGap(err) {
				if next != nil {
					<-next
				}
				return err
			}
			gapErr = err // other authors may still flow
		}
		if !progressed {
			break
		}
		if stop != nil && stop() {
			<-next
			break
		}
	}
	return gapErr
}

// lockedSession serializes a session's requests between pullFrom's
// prefetch and the page being applied.
type lockedSession struct {
	ports.PeerSession
	mu sync.Mutex
}

func (l *lockedSession) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.PeerSession.PullChanges(ctx, req)
}

func (l *lockedSession) GetChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.PeerSession.GetChainRange(ctx, startHash, endHash)
}

func (l *lockedSession) GetSnapshot(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.PeerSession.GetSnapshot(ctx)
}

func (l *lockedSession) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.PeerSession.PushChanges(ctx, entries)
}

// pullState is what a round knows of our chains while it applies pages.
type pullState struct {
	peer     string
	vc       domain.VectorClock
	heads    map[string]string
	poisoned map[string]bool // authors with an entry rejected this round
	snapshot bool            // a snapshot was applied this round
	tainted  bool            // the peer sent entries that did not convert
}

func (e *SyncEngine) newPullState(ctx context.Context, peer string) (*pullState, error) {
	vc, heads, err := chainState(ctx, e.store)
	if err != nil {
		return nil, err
	}
	return &pullState{peer: peer, vc: vc, heads: heads, poisoned: map[string]bool{}}, nil
}

func (e *SyncEngine) reloadState(ctx context.Context, st *pullState) error {
	vc, heads, err := chainState(ctx, e.store)
	if err != nil {
		return err
	}
	st.vc, st.heads = vc, heads
	return nil
}

// checkedPage is a page through validateEntries.
type checkedPage struct {
	valid    []domain.Entry
	rejected []rejection
}

// applyPage reports a validated page's rejected entries, applies the
// valid ones that link to our chains and, when recover is set, fills chain
// gaps from the peer (GetChainRange, then a snapshot when that history is
// pruned).
func (e *SyncEngine) applyPage(ctx context.Context, s ports.PeerSession, st *pullState, page checkedPage,
	recover bool, res *roundResult) error {
	valid, rejected := page.valid, page.rejected
	for i := range rejected {
		st.poisoned[rejected[i].author] = true
		e.reportRejected(st.peer, rejected[i].err)
		res.rejected++
	}
	linked, gaps := linkEntries(valid, st.vc, st.heads)
	if err := e.apply(ctx, st, linked, res); err != nil {
		return err
	}
	var gapErr error
	for _, author := range sortedKeys(gaps) {
		if st.poisoned[author] {
			continue // its chain is broken by a rejected entry: nothing to recover
		}
		if !recover || st.tainted {
			gapErr = gapError(author)
			continue
		}
		if err := e.fillGap(ctx, s, st, author, gaps[author], res); err != nil {
			if !isGap(err) {
				return err
			}
			gapErr = err
		}
	}
	return gapErr
}

// fillGap fetches the part of author's chain between our head and the
// first entry we could not link; when the peer no longer has it, bootstrap
// from the peer's snapshot (once per round).
func (e *SyncEngine) fillGap(ctx context.Context, s ports.PeerSession, st *pullState, author string,
	leftovers []domain.Entry, res *roundResult) error {
	rng, snapReq, err := s.GetChainRange(ctx, st.heads[author], leftovers[0].PrevHash)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// The peer cannot serve that range (it may hold the author's later
		// entries without the earlier ones itself): try its snapshot.
		e.logger.Debug("chain range failed", zap.String("peer", st.peer), zap.String("author", author), zap.Error(err))
		snapReq = true
	}
	if !snapReq {
		res.pulled += len(rng)
		res.bytesIn += entriesSize(rng)
		cand := append(rng, leftovers...)
		valid, rejected := validateEntries(e.clock, cand)
		for i := range rejected {
			st.poisoned[rejected[i].author] = true
			e.reportRejected(st.peer, rejected[i].err)
			res.rejected++
		}
		linked, gaps := linkEntries(valid, st.vc, st.heads)
		if err := e.apply(ctx, st, linked, res); err != nil {
			return err
		}
		if len(gaps[author]) == 0 || st.poisoned[author] {
			return nil
		}
		leftovers = gaps[author]
	}
	if st.snapshot || e.snapshotter == nil {
		return gapError(author)
	}
	if err := e.bootstrap(ctx, s, st, res); err != nil {
		return err
	}
	linked, gaps := linkEntries(leftovers, st.vc, st.heads)
	if err := e.apply(ctx, st, linked, res); err != nil {
		return err
	}
	if len(gaps[author]) > 0 {
		return gapError(author)
	}
	return nil
}

// bootstrap fetches the peer's snapshot and merges it: documents resolved
// like remote entries, heads and vector clock advanced. Parts stamped too
// far in the future (a peer with a broken clock) are left out, like such
// entries are.
func (e *SyncEngine) bootstrap(ctx context.Context, s ports.PeerSession, st *pullState, res *roundResult) error {
	data, err := s.GetSnapshot(ctx)
	if err != nil {
		return err
	}
	res.bytesIn += int64(len(data))
	sn, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	sn = e.filterSnapshot(st.peer, sn)
	if _, err := e.db.ApplySnapshot(ctx, e.snapshotter, sn); err != nil {
		return domain.Wrap(domain.CodePersistence, "sync.bootstrap", err)
	}
	if newest := domain.VectorClock(sn.VectorClock).Max(); !newest.IsZero() {
		_, _ = e.clock.Update(newest) // drift already filtered out
	}
	st.snapshot, res.snapshot = true, true
	e.stats.snapshots.Add(1)
	e.logger.Info("bootstrapped from a peer's snapshot", zap.String("peer", st.peer),
		zap.Int("documents", len(sn.Documents)))
	return e.reloadState(ctx, st)
}

func (e *SyncEngine) filterSnapshot(peer string, sn domain.Snapshot) domain.Snapshot {
	docs := sn.Documents[:0]
	var dropped int
	var firstErr error
	for _, d := range sn.Documents {
		err := e.clock.CheckDrift(d.Stamp)
		if err == nil && !d.Deleted && !json.Valid(d.Data) {
			err = domain.Errorf(domain.CodeSync, "sync.snapshot", "document %s/%s is not valid JSON", d.Collection, d.Key)
		}
		if err != nil {
			dropped++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		docs = append(docs, d)
	}
	if dropped > 0 {
		e.reportRejected(peer, domain.Errorf(domain.CodeClockDrift, "sync.snapshot",
			"%d snapshot documents refused: %w", dropped, firstErr))
	}
	sn.Documents = docs
	for author, ts := range sn.VectorClock {
		if e.clock.CheckDrift(ts) != nil {
			delete(sn.VectorClock, author)
			delete(sn.Heads, author)
		}
	}
	return sn
}

// apply stores linked entries through the database (HLC, cache, change feed)
// and moves the round's view of our chains forward.
func (e *SyncEngine) apply(ctx context.Context, st *pullState, linked []domain.Entry, res *roundResult) error {
	if len(linked) == 0 {
		return nil
	}
	ar, err := e.db.ApplyRemote(ctx, linked)
	res.applied += len(ar.Applied)
	if domain.CodeOf(err) == domain.CodeClockDrift {
		// Our physical clock moved between the check and the apply: the
		// refused entries stay out; learn what did land.
		e.recordError(st.peer, err)
		return e.reloadState(ctx, st)
	}
	if err != nil {
		return domain.Wrap(domain.CodePersistence, "sync.apply", err)
	}
	for i := range linked {
		en := &linked[i]
		if en.Stamp.After(st.vc[en.Author()]) {
			st.vc[en.Author()] = en.Stamp
			st.heads[en.Author()] = en.Hash
		}
	}
	return nil
}

// pushAuthor pushes our entries of one author strictly after since, in
// pages. A peer answering snapshot_required could not link them (it lacks
// history we no longer have): it will bootstrap when it pulls from us.
func (e *SyncEngine) pushAuthor(ctx context.Context, s ports.PeerSession, author string, since domain.Timestamp, res *roundResult) error {
	for {
		page, err := e.store.AuthorEntriesAfter(ctx, author, since, e.opts.BatchSize)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.push", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, chunk := range chunkByBytes(page, e.opts.MaxPushBytes) {
			snapReq, err := s.PushChanges(ctx, chunk)
			if err != nil {
				return err
			}
			res.pushed += len(chunk)
			res.bytesOut += entriesSize(chunk)
			if snapReq {
				e.logger.Debug("peer cannot link our entries; it must bootstrap",
					zap.String("peer", s.PeerID()), zap.String("author", author))
				return nil
			}
		}
		if len(page) < e.opts.BatchSize {
			return nil
		}
		since = page[len(page)-1].Stamp
	}
}

// roundV4 syncs with a peer that does not answer vector-clock requests:
// compare clocks, pull, push.
//
// Pull: "since the newest stamp we hold" would miss entries the peer holds
// from other authors that are older than that stamp (they reached it late,
// or we never heard of their author). We pull instead since the oldest of
// our newest stamps per author other than ourselves: we hold every author's
// chain without holes up to its stamp (only linked entries are applied), so
// nothing we lack from a known author lies before that point. Authors we
// have never heard of are caught by a pull from the beginning on first
// contact and every LegacyFullPull after.
//
// Push: the entries after the peer's newest stamp, all authors.
//
// Residual limits with foreign v4 nodes: they push and serve without our
// chain rule, so an entry of theirs that reaches them late with an old stamp
// reaches us only at the next full pull; our v4 push misses entries they
// lack that are older than their newest stamp (they pull those themselves,
// if they pull); entries they send with hashes that do not link to the
// chains we hold are not applied (there is no chain-range request in v4).
// Two Go nodes falling back to v4 converge: each pulls as above.
func (e *SyncEngine) roundV4(ctx context.Context, s ports.PeerSession, legacy *legacyPeer, res *roundResult) error {
	res.level = "v4"
	theirs, err := s.GetClock(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errNoClock, err)
	}
	st, err := e.newPullState(ctx, s.PeerID())
	if err != nil {
		return err
	}
	since := e.legacySince(st, legacy)
	if groupAfter(theirs, since) {
		if err := e.pullFrom(ctx, s, st, since, false, nil, res); err != nil && !isGap(err) {
			return err
		}
	}
	ours, err := e.store.NewestStamp(ctx)
	if err != nil {
		return domain.Wrap(domain.CodePersistence, "sync.v4", err)
	}
	if groupAfter(theirs, ours) {
		return nil
	}
	// From the peer's newest (wall, logic) group included: entries of ours
	// may share it with a different node id.
	cursor := groupBefore(theirs)
	for {
		page, err := e.store.EntriesAfter(ctx, cursor, nil, e.opts.BatchSize, e.opts.MaxPushBytes)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.v4", err)
		}
		if len(page) == 0 {
			return nil
		}
		if _, err := s.PushChanges(ctx, page); err != nil {
			return err
		}
		res.pushed += len(page)
		res.bytesOut += entriesSize(page)
		cursor = groupUpperBound(page[len(page)-1].Stamp)
	}
}

// roundPullOnly pulls from a peer that answers no clock request.
func (e *SyncEngine) roundPullOnly(ctx context.Context, s ports.PeerSession, legacy *legacyPeer, res *roundResult) error {
	res.level = "pull-only"
	st, err := e.newPullState(ctx, s.PeerID())
	if err != nil {
		return err
	}
	if err := e.pullFrom(ctx, s, st, e.legacySince(st, legacy), false, nil, res); err != nil && !isGap(err) {
		return err
	}
	return nil
}

// legacySince is where a v4 pull starts (see roundV4).
func (e *SyncEngine) legacySince(st *pullState, legacy *legacyPeer) domain.Timestamp {
	e.mu.Lock()
	full := legacy.lastFullPull.IsZero() || time.Since(legacy.lastFullPull) > e.opts.LegacyFullPull
	if full {
		legacy.lastFullPull = time.Now()
	}
	e.mu.Unlock()
	if full {
		return domain.Timestamp{}
	}
	var since domain.Timestamp
	first := true
	for author, ts := range st.vc {
		if author == e.opts.NodeID {
			continue
		}
		if first || ts.Before(since) {
			since, first = ts, false
		}
	}
	return since
}

// ---- entry checks shared by SyncService and SyncEngine ----

// rejection is one refused entry.
type rejection struct {
	author string
	err    error
}

// validateEntries checks each entry on its own: an author, a stamp not too
// far ahead of our clock, and a hash matching the entry's contents (an
// entry without a hash comes from a v4 node and is taken unchained).
// Unknown operations and invalid JSON were refused by the protocol layer.
func validateEntries(clock *domain.Clock, entries []domain.Entry) ([]domain.Entry, []rejection) {
	var rejected []rejection
	var valid []domain.Entry // built from the first rejection on
	for i := range entries {
		en := &entries[i]
		var err error
		switch {
		case en.Stamp.Node == "":
			err = domain.Errorf(domain.CodeSync, "sync.validate", "entry %s/%s has no author", en.Collection, en.Key)
		case en.Hash != "" && !en.VerifyHash():
			err = domain.Errorf(domain.CodeSync, "sync.validate",
				"entry %s/%s by %s: hash does not match its contents", en.Collection, en.Key, en.Stamp.Node)
		default:
			if derr := clock.CheckDrift(en.Stamp); derr != nil {
				// SYNC_ERROR outside, CLOCK_DRIFT within (errors.Is sees both).
				err = &domain.Error{Code: domain.CodeSync, Op: "sync.validate",
					Msg: "entry " + en.Collection + "/" + en.Key + " refused", Err: derr}
			}
		}
		if err != nil {
			if rejected == nil {
				valid = append(make([]domain.Entry, 0, len(entries)-1), entries[:i]...)
			}
			rejected = append(rejected, rejection{author: en.Stamp.Node, err: err})
			continue
		}
		if rejected != nil {
			valid = append(valid, *en)
		}
	}
	if len(rejected) == 0 {
		return entries, nil
	}
	return valid, rejected
}

// chainState reads our vector clock and chain heads.
func chainState(ctx context.Context, store ports.OplogReader) (domain.VectorClock, map[string]string, error) {
	vc, err := store.VectorClock(ctx)
	if err != nil {
		return nil, nil, err
	}
	heads, err := store.Heads(ctx)
	if err != nil {
		return nil, nil, err
	}
	if vc == nil {
		vc = domain.VectorClock{}
	}
	if heads == nil {
		heads = map[string]string{}
	}
	return vc, heads, nil
}

// linkEntries keeps, per author, the entries that continue the chain we
// hold (following PrevHash from our head), in chain order, and drops those
// we already hold (stamp not after our vector clock). The rest would leave
// a hole in the chain: they are returned per author, in stamp order, and
// not applied. Entries without a hash (v4 authors) are taken as they come,
// and so are chained entries of an author whose head we do not know
// although we hold entries of it (its earlier entries came unchained).
func linkEntries(entries []domain.Entry, vc domain.VectorClock, heads map[string]string) (linked []domain.Entry, gaps map[string][]domain.Entry) {
	// Group by author as indexes into entries: a page is mostly one or two
	// authors' long runs, and copying whole entries into per-author slices
	// (then again into linked) was most of this function's cost.
	byAuthor := map[string][]int{}
	var authors []string
	for i := range entries {
		a := entries[i].Author()
		if !entries[i].Stamp.After(vc[a]) {
			continue // held already
		}
		if _, ok := byAuthor[a]; !ok {
			authors = append(authors, a)
		}
		byAuthor[a] = append(byAuthor[a], i)
	}
	sort.Strings(authors)
	linked = make([]domain.Entry, 0, len(entries))
	for _, a := range authors {
		idx := byAuthor[a]
		less := func(i, j int) bool { return entries[idx[i]].Stamp.Before(entries[idx[j]].Stamp) }
		if !sort.SliceIsSorted(idx, less) {
			sort.SliceStable(idx, less)
		}
		es := func(k int) *domain.Entry { return &entries[idx[k]] }
		head := heads[a]
		if head == "" && !vc[a].IsZero() {
			for k := range idx {
				linked = append(linked, *es(k))
			}
			continue
		}
		byPrev := make(map[string]int, len(idx))
		used := make([]bool, len(idx))
		for k := range idx {
			if es(k).Hash == "" {
				continue
			}
			if _, dup := byPrev[es(k).PrevHash]; !dup {
				byPrev[es(k).PrevHash] = k
			}
		}
		// Follow the chain from our head; unchained entries pass as they are.
		cur := head
		unused := len(idx)
		for {
			k, ok := byPrev[cur]
			if !ok || used[k] {
				break
			}
			used[k] = true
			unused--
			cur = es(k).Hash
		}
		var linkedHashes map[string]bool // only needed to spot duplicates among the rest
		if unused > 0 {
			linkedHashes = map[string]bool{}
			for k := range idx {
				if used[k] {
					linkedHashes[es(k).Hash] = true
				}
			}
		}
		var rest []domain.Entry
		for k := range idx {
			switch {
			case es(k).Hash == "" || used[k]:
				linked = append(linked, *es(k))
			case linkedHashes[es(k).Hash]:
				// the same entry twice in one batch
			default:
				rest = append(rest, *es(k))
			}
		}
		if len(rest) > 0 {
			if gaps == nil {
				gaps = map[string][]domain.Entry{}
			}
			gaps[a] = rest
		}
	}
	return linked, gaps
}

// gapErr says an author's chain could not be completed from this peer.
type gapErr struct{ author string }

func (g gapErr) Error() string {
	if g.author == "" {
		return "entries refused on arrival leave a gap this peer cannot fill"
	}
	return "hash chain of " + g.author + " has a gap this peer cannot fill"
}

func gapError(author string) error {
	return &domain.Error{Code: domain.CodeSync, Op: "sync.chain", Err: gapErr{author}}
}

func isGap(err error) bool {
	var g gapErr
	return errors.As(err, &g)
}

func sortedKeys(m map[string][]domain.Entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// chunkByBytes splits entries into runs of at most maxBytes (each run holds
// at least one entry).
func chunkByBytes(entries []domain.Entry, maxBytes int) [][]domain.Entry {
	var out [][]domain.Entry
	start, size := 0, 0
	for i := range entries {
		sz := entries[i].Size()
		if i > start && size+sz > maxBytes {
			out = append(out, entries[start:i])
			start, size = i, 0
		}
		size += sz
	}
	if start < len(entries) {
		out = append(out, entries[start:])
	}
	return out
}

func entriesSize(entries []domain.Entry) int64 {
	var n int64
	for i := range entries {
		n += int64(entries[i].Size())
	}
	return n
}

// ---- reporting ----

func (e *SyncEngine) reportRejected(peer string, err error) {
	e.logger.Warn("rejected an entry from a peer", zap.String("peer", peer), zap.Error(err))
	e.recordError(peer, err)
}

func (e *SyncEngine) recordError(peer string, err error) {
	if e.status != nil {
		e.status.RecordError(peer, err)
	}
}

func (e *SyncEngine) recordSuccess(t peerTarget, res roundResult) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, true)
		e.status.RecordSyncSuccess(t.nodeID, t.addr, int64(res.applied+res.pushed), res.bytesIn+res.bytesOut)
	}
}

func (e *SyncEngine) recordFailure(t peerTarget, err error) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, false)
		e.status.RecordSyncFailure(t.nodeID, t.addr, err)
	}
}

func (e *SyncEngine) setPeerConnected(t peerTarget, connected bool) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, connected)
	}
}

func (e *SyncEngine) setOnline(online bool) {
	if e.status != nil {
		e.status.SetOnline(online)
	}
}
