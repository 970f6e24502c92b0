package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestSyncTwoNodesBothDirections(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	a.put(t, "users", "u1", `{"name":"ann"}`)
	b.put(t, "users", "u2", `{"name":"bob"}`)

	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, `{"name":"bob"}`, a.body(t, "users", "u2"))
	assert.Equal(t, `{"name":"ann"}`, b.body(t, "users", "u1"))
	requireConverged(t, nodes)

	// A round with a peer already in sync moves nothing.
	pullsBefore, pushesBefore := b.pulls.Load(), b.pushes.Load()
	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, pullsBefore, b.pulls.Load(), "no-op round pulled")
	assert.Equal(t, pushesBefore, b.pushes.Load(), "no-op round pushed")

	st := a.status.Snapshot(ctx)
	assert.NotZero(t, st.LastSuccessfulSync)
	assert.Equal(t, int64(2), st.DocumentsSynced) // one pulled, one pushed
}

func TestSyncConcurrentWritesSameKeyConvergeOnLWWWinner(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 3, syncNodeOpts{})
	var newest domain.Timestamp
	var winner string
	for i, n := range nodes {
		body := fmt.Sprintf(`{"by":%d}`, i)
		if ts := n.put(t, "c", "k", body); ts.After(newest) {
			newest, winner = ts, body
		}
	}
	for range 2 {
		for _, n := range nodes {
			require.NoError(t, n.engine.SyncNow(ctx))
		}
	}
	for _, n := range nodes {
		assert.Equal(t, winner, n.body(t, "c", "k"), n.id)
	}
	requireConverged(t, nodes)
}

func TestSyncDeletesAndResurrection(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	a.put(t, "c", "k", `{"v":1}`)
	require.NoError(t, a.engine.SyncNow(ctx))
	require.Equal(t, `{"v":1}`, b.body(t, "c", "k"))

	b.del(t, "c", "k")
	require.NoError(t, b.engine.SyncNow(ctx))
	assert.Equal(t, "", a.body(t, "c", "k"), "delete propagates")

	// A write newer than the tombstone resurrects; an older one would not.
	a.put(t, "c", "k", `{"v":2}`)
	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, `{"v":2}`, b.body(t, "c", "k"))
	requireConverged(t, nodes)

	// Concurrent delete (newer) vs put (older): the delete wins everywhere.
	a.put(t, "c", "k", `{"v":3}`)
	time.Sleep(2 * time.Millisecond) // a later wall, so b's delete is newer
	b.del(t, "c", "k")
	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, "", a.body(t, "c", "k"))
	assert.Equal(t, "", b.body(t, "c", "k"))
	requireConverged(t, nodes)
}

func TestSyncMeshPartitionHeal(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 5, syncNodeOpts{batch: 7}) // small pages exercise paging
	rnd := rand.New(rand.NewPCG(1, 2))
	write := func(group []*syncNode, n int) {
		for range n {
			node := group[rnd.IntN(len(group))]
			key := fmt.Sprintf("k%d", rnd.IntN(30))
			if rnd.IntN(6) == 0 {
				if _, err := node.db.Delete(ctx, "c", key); err != nil {
					require.Equal(t, domain.CodeNotFound, domain.CodeOf(err))
				}
				continue
			}
			node.put(t, "c", key, fmt.Sprintf(`{"n":%d,"by":%q}`, rnd.IntN(1000), node.id))
		}
	}
	syncAll := func() {
		for _, n := range nodes {
			_ = n.engine.SyncNow(ctx) // cut links fail; the rest must flow
		}
	}
	write(nodes, 60)
	syncAll()
	requireConverged(t, nodes)

	left, right := nodes[:2], nodes[2:]
	net.partition(left, right, true)
	write(left, 40)
	write(right, 40)
	syncAll()
	requireConverged(t, left)
	requireConverged(t, right)
	require.NotEqual(t, left[0].stateHash(t), right[0].stateHash(t))

	net.partition(left, right, false)
	syncAll()
	requireConverged(t, nodes)
	for _, n := range nodes[1:] {
		assert.Equal(t, nodes[0].vc(t), n.vc(t))
	}
}

func TestSyncGossipPushesLocalCommitsAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 3, syncNodeOpts{})
	for _, n := range nodes {
		require.NoError(t, n.engine.Start(ctx))
	}
	defer func() {
		for _, n := range nodes {
			require.NoError(t, n.engine.Stop(context.Background()))
		}
	}()
	for i := range 50 {
		nodes[i%3].put(t, "c", fmt.Sprintf("k%d", i), `{"x":1}`)
	}
	// The round interval is an hour: only gossip can carry these.
	waitFor(t, 5*time.Second, "gossip to reach every node", func() bool {
		for _, n := range nodes {
			if c, _ := n.db.Count(ctx, "c", nil); c != 50 {
				return false
			}
		}
		return true
	})
	requireConverged(t, nodes)
}

// The queue counts the changes no peer holds; a round with a peer that
// comes back pushes them, and the peer's confirmation empties it.
func TestSyncOfflineQueueEmptiesWhenPeerConfirms(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{queue: true})
	a, b := nodes[0], nodes[1]
	net.setDown(b.addr, true)
	require.NoError(t, a.engine.Start(ctx))
	defer func() { require.NoError(t, a.engine.Stop(context.Background())) }()

	a.put(t, "c", "k1", `{"v":1}`)
	a.put(t, "c", "k2", `{"v":2}`)
	waitFor(t, 5*time.Second, "changes queued offline", func() bool {
		n, err := a.queue.Len(ctx)
		return err == nil && n == 2
	})
	assert.False(t, a.status.Online())

	net.setDown(b.addr, false)
	pushes := b.pushes.Load()
	require.NoError(t, a.engine.SyncNow(ctx))
	n, err := a.queue.Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "b confirmed both")
	assert.Positive(t, b.pushes.Load()-pushes, "the round pushed them")
	assert.Equal(t, `{"v":2}`, b.body(t, "c", "k2"))
	assert.True(t, a.status.Online())
	requireConverged(t, nodes)
}

func TestSyncSkewedPeerEntriesRejectedOthersFlow(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{})
	s := net.addNode(t, "s", syncNodeOpts{})
	s.skew.Store(2 * testMaxDrift) // s's clock runs two minutes ahead
	a.engine.opts.StaticPeers = []string{s.addr}
	s.engine.opts.StaticPeers = []string{b.addr}

	b.put(t, "c", "from-b", `{"ok":true}`)
	s.put(t, "c", "from-s", `{"skewed":true}`)
	require.NoError(t, s.engine.SyncNow(ctx)) // s learns b's entry (b rejects s's)
	require.Equal(t, `{"ok":true}`, s.body(t, "c", "from-b"))
	assert.Equal(t, "", b.body(t, "c", "from-s"))
	assert.Positive(t, b.svc.Rejected(), "b refused s's pushed entry")

	require.NoError(t, a.engine.SyncNow(ctx)) // a pulls from s
	assert.Equal(t, `{"ok":true}`, a.body(t, "c", "from-b"), "b's entry flows through s")
	assert.Equal(t, "", a.body(t, "c", "from-s"), "s's own entry is refused")
	assert.True(t, a.clock.Last().Wall < time.Now().UnixMilli()+testMaxDrift, "our clock was not dragged ahead")
	found := false
	for _, e := range a.status.RecentErrors() {
		if e.Code == string(domain.CodeSync) && e.Peer == "s" && strings.Contains(e.Message, "ahead of local time") {
			found = true
		}
	}
	assert.True(t, found, "SYNC_ERROR (clock drift) recorded with the peer: %+v", a.status.RecentErrors())
	assert.Positive(t, a.engine.Stats().EntriesRejected)
}

func TestSyncFallbackV4AndPullOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level int32
		push  bool // the level pushes our entries to the peer
	}{
		{"v4", levelV4, true},
		{"pull-only", levelPullOnly, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			net := newSyncNet()
			nodes := net.mesh(t, 3, syncNodeOpts{batch: 5})
			a, b, c := nodes[0], nodes[1], nodes[2]
			b.level.Store(tc.level)
			// c's entries are old, and reach b only after a has synced with b:
			// a v4 pull "since the newest stamp" would miss them.
			for i := range 12 {
				c.put(t, "c", fmt.Sprintf("old%d", i), `{"c":1}`)
			}
			for i := range 12 {
				b.put(t, "c", fmt.Sprintf("b%d", i), `{"b":1}`)
			}
			a.skew.Store(50) // a0 is newer than everything b holds
			a.put(t, "c", "a0", `{"a":1}`)
			require.NoError(t, a.engine.SyncNow(ctx)) // a↔b (v4/pull-only), a↔c (v5)
			assert.Equal(t, `{"b":1}`, a.body(t, "c", "b11"))
			if tc.push {
				assert.Equal(t, `{"a":1}`, b.body(t, "c", "a0"))
			}
			// everyone converges through a
			require.NoError(t, a.engine.SyncNow(ctx))
			require.NoError(t, c.engine.SyncNow(ctx))
			// b pulls from the others itself (its own rounds are v5): what a
			// v4 push cannot carry (entries older than b's newest) reaches it.
			require.NoError(t, b.engine.SyncNow(ctx))
			requireConverged(t, nodes)
		})
	}
}

// hidingStore serves pulls without some entries (its chain ranges still
// hold them), as a peer whose pages start past a point of a chain we lack.
type hidingStore struct {
	*memory.Store
	hide func(domain.Entry) bool
}

func (h hidingStore) EntriesAfter(ctx context.Context, since domain.Timestamp, collections []string, limit, maxBytes int) ([]domain.Entry, error) {
	es, err := h.Store.EntriesAfter(ctx, since, collections, limit, maxBytes)
	kept := es[:0:0]
	for _, e := range es {
		if !h.hide(e) {
			kept = append(kept, e)
		}
	}
	return kept, err
}

func TestSyncGapRecoveredByChainRange(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	a := net.addNode(t, "n0", syncNodeOpts{})
	// b's pull answers leave out k3 and k4: a sees a hole in b's chain.
	// (The pages are proven as served: a page that lost entries on the way
	// would not verify.)
	hide := func(e domain.Entry) bool { return e.Key == "k3" || e.Key == "k4" }
	b := net.addNode(t, "n1", syncNodeOpts{serve: func(s *memory.Store) ports.Store { return hidingStore{s, hide} }})
	nodes := []*syncNode{a, b}
	a.engine.opts.StaticPeers = []string{b.addr}
	b.engine.opts.StaticPeers = []string{a.addr}
	for i := range 10 {
		b.put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Positive(t, b.ranges.Load(), "gap filled with GetChainRange")
	assert.Equal(t, `{"i":3}`, a.body(t, "c", "k3"))
	requireConverged(t, nodes)
	assert.Zero(t, a.engine.Stats().Snapshots)
}

func TestSyncSnapshotBootstrapAfterPruning(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	for i := range 40 {
		a.put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	a.del(t, "c", "k0")
	pruned, err := a.store.Prune(ctx, time.Now().UnixMilli()+1)
	require.NoError(t, err)
	require.Positive(t, pruned)

	// A new node joins: the history it lacks is gone, only a snapshot helps.
	c := net.addNode(t, "c", syncNodeOpts{peers: []string{a.addr}})
	require.NoError(t, c.engine.SyncNow(ctx))
	assert.Equal(t, int64(1), c.engine.Stats().Snapshots)
	assert.Equal(t, `{"i":39}`, c.body(t, "c", "k39"))
	assert.Equal(t, "", c.body(t, "c", "k0"))
	requireConverged(t, []*syncNode{a, c})

	// Later entries link to the snapshot's heads: no second snapshot.
	a.put(t, "c", "after", `{"x":1}`)
	require.NoError(t, c.engine.SyncNow(ctx))
	assert.Equal(t, `{"x":1}`, c.body(t, "c", "after"))
	assert.Equal(t, int64(1), c.engine.Stats().Snapshots)
	requireConverged(t, []*syncNode{a, c})
}

func TestSyncStartStopNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{interval: 5 * time.Millisecond})
	for _, n := range nodes {
		require.NoError(t, n.engine.Start(ctx))
	}
	require.Error(t, nodes[0].engine.Start(ctx), "double start refused")
	nodes[0].put(t, "c", "k", `{"v":1}`)
	waitFor(t, 5*time.Second, "rounds to run", func() bool { return nodes[1].engine.Stats().Rounds > 3 })
	for _, n := range nodes {
		require.NoError(t, n.engine.Stop(context.Background()))
		require.NoError(t, n.engine.Stop(context.Background()), "stop is idempotent")
	}
	assert.Equal(t, `{"v":1}`, nodes[1].body(t, "c", "k"))
}

// stuckDialer blocks every dial, whatever the context, until released.
type stuckDialer struct {
	entered chan struct{}
	release chan struct{}
}

func (d *stuckDialer) Dial(context.Context, string) (ports.PeerSession, error) {
	select {
	case d.entered <- struct{}{}:
	default:
	}
	<-d.release
	return nil, domain.Errorf(domain.CodeNetwork, "stuck.Dial", "released")
}

// engineDeps are the required collaborators of a node "a" on a memory
// store, with its database's outbox.
func engineDeps(t *testing.T, d ports.PeerDialer) SyncEngineDeps {
	outbox := NewOutbox(0)
	store := memory.New()
	clock := domain.NewClock("a", func() int64 { return time.Now().UnixMilli() }, testMaxDrift)
	db, err := NewDatabase(store, nil, clock, nil, DatabaseOptions{Outbox: outbox})
	require.NoError(t, err)
	return SyncEngineDeps{Database: db, Store: store, Dialer: d, Executor: passExec{}, Clock: clock, Outbox: outbox}
}

// Stop gives up when its context ends before the engine's sessions do.
func TestSyncStopBoundedByContext(t *testing.T) {
	d := &stuckDialer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	deps := engineDeps(t, d)
	e, err := NewSyncEngine(deps, EngineOptions{Interval: time.Millisecond, StaticPeers: []string{"b:1"}})
	require.NoError(t, err)
	require.NoError(t, e.Start(t.Context()))
	select {
	case <-d.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no round dialled")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err = e.Stop(ctx)
	require.Equal(t, domain.CodeTimeout, domain.CodeOf(err), "%v", err)
	close(d.release)
	require.NoError(t, e.Stop(t.Context()), "stopped already")
	e.wg.Wait() // the stuck session ends once released
}

func TestNewSyncEngineValidatesDeps(t *testing.T) {
	full := engineDeps(t, &stuckDialer{})
	_, err := NewSyncEngine(full, EngineOptions{})
	require.NoError(t, err, "discovery, queue, status and logger are optional")

	missing := full
	missing.Dialer, missing.Clock = nil, nil
	_, err = NewSyncEngine(missing, EngineOptions{})
	require.Equal(t, domain.CodeConfig, domain.CodeOf(err))
	require.ErrorContains(t, err, "Clock, Dialer")

	roundsOnly := full
	roundsOnly.Outbox = nil
	_, err = NewSyncEngine(roundsOnly, EngineOptions{})
	require.NoError(t, err, "an engine without an outbox runs rounds only")

	other := full
	other.Outbox = NewOutbox(0)
	_, err = NewSyncEngine(other, EngineOptions{})
	require.Equal(t, domain.CodeConfig, domain.CodeOf(err), "an outbox the database does not fill")
}

func TestSyncFailureRecordedWithCode(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	net.setDown(b.addr, true)
	err := a.engine.SyncNow(ctx)
	require.Error(t, err)
	assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	errs := a.status.RecentErrors()
	require.NotEmpty(t, errs)
	assert.Equal(t, string(domain.CodeNetwork), errs[len(errs)-1].Code)
	assert.Equal(t, b.addr, errs[len(errs)-1].Peer)
	assert.Equal(t, int64(1), a.engine.Stats().FailedRounds)
	assert.False(t, a.status.Online())

	// The peer is back: a success is recorded under its node id.
	net.setDown(b.addr, false)
	require.NoError(t, a.engine.SyncNow(ctx))
	peers := a.status.Peers()
	require.Len(t, peers, 1)
	assert.Equal(t, "n1", peers[0].NodeID)
	assert.Equal(t, int64(1), peers[0].SuccessfulSyncs)
	assert.True(t, peers[0].Connected)
	assert.True(t, a.status.Online())

	// Down again: now that its id is known, the failure counts against it.
	net.setDown(b.addr, true)
	require.Error(t, a.engine.SyncNow(ctx))
	peers = a.status.Peers()
	require.Len(t, peers, 1)
	assert.Equal(t, int64(1), peers[0].FailedSyncs)
	assert.False(t, peers[0].Connected)
}

func TestSyncGossipOverflowFallsBackToRound(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	a.engine.outbox.limit = 5
	require.NoError(t, a.engine.Start(ctx))
	defer func() { require.NoError(t, a.engine.Stop(context.Background())) }()
	puts := map[string][]byte{}
	for i := range 20 {
		puts[fmt.Sprintf("k%d", i)] = []byte(`{"v":1}`)
	}
	_, err := a.db.Batch(ctx, "c", Batch{Puts: puts})
	require.NoError(t, err)
	waitFor(t, 5*time.Second, "the round replacing the overflowed push", func() bool {
		c, _ := b.db.Count(ctx, "c", nil)
		return c == 20
	})
	// The round a node runs when it starts may carry the entries before the
	// gossip loop has taken the overflowed outbox and counted it.
	waitFor(t, 5*time.Second, "the overflow counted", func() bool { return a.engine.Stats().GossipOverflow > 0 })
}

func TestSyncUnconvertibleEntriesRefusedOthersFlow(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	b.put(t, "c", "good", `{"ok":true}`)
	b.put(t, "c", "bad", `{"ok":false}`)
	c := net.addNode(t, "c", syncNodeOpts{peers: []string{b.addr}})
	c.put(t, "c", "other", `{"ok":true}`)
	require.NoError(t, c.engine.SyncNow(ctx)) // c holds nothing of b; b learns c's entry
	// b's answers lose "bad" the way the protocol layer drops an entry with
	// an unknown operation: the rest of the page comes with a SYNC_ERROR.
	bad := func(e domain.Entry) bool { return e.Key == "bad" }
	b.dropInPull.Store(&bad)
	b.convertErr.Store(true)
	// b's chain stays incomplete: what of it is refused is counted and
	// reported, and the round goes on.
	_ = a.engine.SyncNow(ctx)
	// The proof of b's run in that page rode on the entry lost, so the
	// entry before it cannot be proven either: refused with it.
	assert.Equal(t, "", a.body(t, "c", "good"), "b's run in the page is unproven")
	assert.Equal(t, `{"ok":true}`, a.body(t, "c", "other"), "other authors flow")
	assert.Equal(t, "", a.body(t, "c", "bad"))
	assert.GreaterOrEqual(t, a.engine.Stats().EntriesRejected, int64(2), "the lost entry and the unproven one")
	assert.Zero(t, a.engine.Stats().Snapshots, "no recovery attempted from a peer sending bad entries")
	found := false
	for _, e := range a.status.RecentErrors() {
		found = found || (e.Code == string(domain.CodeSync) && e.Peer == "n1")
	}
	assert.True(t, found, "%+v", a.status.RecentErrors())
}

// Two Go nodes speaking v4 to each other: an old entry of a third author
// that reaches b after a has synced with b lies before a's v4 cursor; the
// periodic full pull still brings it.
func TestSyncV4LateOldEntryOfThirdAuthorConverges(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{})
	c := net.addNode(t, "c", syncNodeOpts{})
	a.level.Store(levelV4)
	b.level.Store(levelV4)
	a.engine.opts.StaticPeers = []string{b.addr}

	c.put(t, "c", "old", `{"c":1}`) // old stamp, kept by c for now
	b.put(t, "c", "b1", `{"b":1}`)
	require.NoError(t, a.engine.SyncNow(ctx)) // first v4 contact: a full pull
	b.put(t, "c", "b2", `{"b":2}`)
	require.NoError(t, a.engine.SyncNow(ctx)) // a's cursor is now past c's entry
	b.engine.opts.StaticPeers = []string{c.addr}
	require.NoError(t, b.engine.SyncNow(ctx)) // c's old entry reaches b (b pulls; c speaks v5)
	require.Equal(t, `{"c":1}`, b.body(t, "c", "old"))

	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, "", a.body(t, "c", "old"), "the v4 cursor misses it (the documented limit)")

	a.engine.opts.LegacyFullPull = time.Nanosecond // the next v4 round pulls from the start
	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, `{"c":1}`, a.body(t, "c", "old"))
	requireConverged(t, []*syncNode{a, b})
}

// A commit holds the database's write lock while it hands its entries to
// the engine; an engine started again after Stop plugs itself into the
// database meanwhile. Neither may wait for the other's lock.
func TestSyncRestartWhileWritingDoesNotDeadlock(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a := nodes[0]
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := a.db.Put(ctx, "c", fmt.Sprintf("w%d-%d", w, i%20), []byte(`{"v":1}`), nil)
				assert.NoError(t, err)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 300 {
			assert.NoError(t, a.engine.Start(ctx))
			assert.NoError(t, a.engine.Stop(context.Background()))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("engine Start/Stop deadlocked with concurrent writes")
	}
	close(stop)
	writers.Wait()
}

// Everything acknowledged locally reaches a peer that was down, even when
// the offline queue passed its size and the outbox overflowed meanwhile:
// the oplog stays the source of truth and rounds push what the peer lacks.
// Passing MaxQueueSize drops nothing and refuses nothing.
func TestSyncQueuePastMaxAndGossipOverflowStillConverge(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{queue: true, interval: 20 * time.Millisecond})
	a, b := nodes[0], nodes[1]
	a.engine.queue = NewOfflineQueue(a.store, a.clocks, a.id, QueueOptions{Enabled: true, MaxSize: 3}, nil)
	a.engine.outbox.limit = 5
	net.setDown(b.addr, true)
	require.NoError(t, a.engine.Start(ctx))
	defer func() { require.NoError(t, a.engine.Stop(context.Background())) }()
	for i := range 6 {
		a.put(t, "c", fmt.Sprintf("k%d", i), `{"v":1}`)
		n, err := a.engine.queue.Len(ctx)
		require.NoError(t, err)
		require.Equal(t, i+1, n, "every change counts, past MaxSize too")
	}
	puts := map[string][]byte{}
	for j := range 8 {
		puts[fmt.Sprintf("b%d", j)] = []byte(`{"v":1}`)
	}
	_, err := a.db.Batch(ctx, "c", Batch{Puts: puts})
	require.NoError(t, err)
	waitFor(t, 5*time.Second, "the outbox to overflow", func() bool { return a.engine.Stats().GossipOverflow > 0 })
	net.setDown(b.addr, false)
	waitFor(t, 5*time.Second, "every acknowledged write on the peer", func() bool {
		c, _ := b.db.Count(ctx, "c", nil)
		return c == 14
	})
	requireConverged(t, nodes)
}

// countingObserver records the byte counts the status tracker reports.
type countingObserver struct {
	nopObserver
	mu           sync.Mutex
	bytesIn, out int
}

func (o *countingObserver) BytesIn(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bytesIn += n
}

func (o *countingObserver) BytesOut(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.out += n
}

// Bytes received and bytes sent are counted apart: a round that pulls one
// entry and pushes another reports each on its own counter.
func TestSyncBytesInAndOutCountedApart(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	obs := &countingObserver{}
	a.status = NewStatusTracker(a.id, StatusOptions{Observer: obs})
	a.engine.status = a.status
	tsA := a.put(t, "c", "mine", `{"small":1}`)
	tsB := b.put(t, "c", "theirs", `{"a much larger document":"`+strings.Repeat("x", 200)+`"}`)
	entryOf := func(n *syncNode, ts domain.Timestamp) domain.Entry {
		es, err := n.store.AuthorEntriesAfter(ctx, n.id, ts.Prev(), 1)
		require.NoError(t, err)
		return es[0]
	}
	require.NoError(t, a.engine.SyncNow(ctx))
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// Each went with its author's proof: key, link before, signature.
	sent := func(e domain.Entry) int {
		e.Proof = &domain.AuthorProof{PublicKey: make([]byte, ed25519.PublicKeySize),
			LinkBefore: make([]byte, domain.LinkSize), Signature: make([]byte, ed25519.SignatureSize)}
		return e.Size()
	}
	in, out := entryOf(b, tsB), entryOf(a, tsA)
	assert.Equal(t, sent(in), obs.bytesIn, "received")
	assert.Equal(t, sent(out), obs.out, "sent")
}

// Start's context bounds starting, not the engine's life (like the node's
// other components): an embedder that opens a node with a deadline and
// cancels it once Open returns must still have its writes pushed.
func TestSyncEngineOutlivesStartContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	startCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	require.NoError(t, a.engine.Start(startCtx))
	cancel()
	defer func() { require.NoError(t, a.engine.Stop(context.Background())) }()
	a.put(t, "c", "k", `{"v":1}`)
	waitFor(t, 5*time.Second, "the write gossiped to the peer", func() bool { return b.body(t, "c", "k") != "" })
}

// A zero EngineOptions or SyncOptions takes the defaults the configuration
// declares (domain/defaults.go), not values of its own.
func TestSyncOptionsDefaultsAreTheConfigs(t *testing.T) {
	eo := EngineOptions{}.withDefaults()
	assert.Equal(t, domain.DefaultSyncInterval, eo.Interval)
	assert.Equal(t, domain.DefaultSyncFanout, eo.Fanout)
	assert.Equal(t, domain.DefaultSyncBatchSize, eo.BatchSize)
	assert.Equal(t, domain.DefaultMaxPageBytes, eo.MaxPushBytes)
	so := SyncOptions{}.withDefaults()
	assert.Equal(t, domain.DefaultSyncBatchSize, so.BatchSize)
	assert.Equal(t, domain.DefaultMaxPageBytes, so.MaxPageBytes)
}
