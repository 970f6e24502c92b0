package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A peer whose first page holds nothing but entries we cannot read (here:
// a whole page of another author's entries the protocol layer drops) used
// to end the pull there, so none of its later writes ever arrived. The
// cursor now moves past them and the later writes flow.
func TestSyncPullMovesPastAPageOfUnusableEntries(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	w := net.addNode(t, "w", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{batch: 100, peers: []string{w.addr}})
	for i := range 100 {
		w.put(t, "c", fmt.Sprintf("bad%03d", i), `{"bad":true}`)
	}
	require.NoError(t, b.engine.SyncNow(ctx)) // b holds w's 100 entries
	b.put(t, "c", "good1", `{"good":1}`)
	b.put(t, "c", "good2", `{"good":2}`)
	bad := func(e domain.Entry) bool { return strings.HasPrefix(e.Key, "bad") }
	b.dropInPull.Store(&bad)
	b.convertErr.Store(true)

	a := net.addNode(t, "a", syncNodeOpts{peers: []string{b.addr}})
	err := a.engine.SyncNow(ctx)
	require.Error(t, err, "w's chain stays incomplete: the round says so")
	assert.Equal(t, `{"good":1}`, a.body(t, "c", "good1"), "the peer's later writes arrive")
	assert.Equal(t, `{"good":2}`, a.body(t, "c", "good2"))
	assert.Equal(t, "", a.body(t, "c", "bad000"))
	assert.Positive(t, a.engine.Stats().EntriesRejected)
	peer := peerByID(t, a.status.Peers(), "b")
	assert.Positive(t, peer.Refused["sync_error"], "%+v", peer)
}

// A peer that refuses some of what we push has applied the rest: the push
// goes on with the other authors, the round is not failed for it, and both
// sides say so (status, health, metrics).
func TestSyncRefusedPushIsReportedAndTheRestFlows(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	q := net.addNode(t, "q", syncNodeOpts{})
	refusals := &countingRefusals{}
	s := net.addNode(t, "s", syncNodeOpts{peers: []string{q.addr}})
	b := net.addNode(t, "b", syncNodeOpts{})
	b.status.opts.Replication = refusals
	pushRefusals := &countingRefusals{}
	s.status.opts.Replication = pushRefusals
	q.put(t, "c", "from-q", `{"ok":true}`)
	require.NoError(t, s.engine.SyncNow(ctx)) // s holds q's entry
	s.skew.Store(2 * testMaxDrift)            // s's clock now runs two minutes ahead
	s.put(t, "c", "from-s", `{"skewed":true}`)

	s.engine.opts.StaticPeers = []string{b.addr}
	require.NoError(t, s.engine.SyncNow(ctx), "a refused push does not fail the round")
	assert.Equal(t, `{"ok":true}`, b.body(t, "c", "from-q"), "the other author's entries were applied")
	assert.Equal(t, "", b.body(t, "c", "from-s"))

	// The pusher: b is a peer it cannot replicate to.
	ps := peerByID(t, s.status.Peers(), "b")
	assert.Equal(t, int64(1), ps.ConsecutiveFailures)
	assert.Contains(t, ps.LastError, "did not apply")
	assert.Equal(t, 1, pushRefusals.pushes)
	assert.Equal(t, 1, pushRefusals.failing, "b is a failing peer")
	r := NewHealthCheck(nil, s.status, nil, HealthOptions{}).Check(ctx)
	assert.Contains(t, strings.Join(r.Errors, "\n"), "peer b: cannot replicate: ")
	assert.False(t, r.ReplicationStuck, "not stuck yet")

	// The receiver: s's entries keep being refused, by cause.
	pb := peerByID(t, b.status.Peers(), "s")
	assert.Equal(t, int64(1), pb.Refused["clock_drift"])
	r = NewHealthCheck(nil, b.status, nil, HealthOptions{}).Check(ctx)
	assert.Contains(t, r.Errors, "peer s: 1 entries refused (clock_drift)")
	assert.Equal(t, map[string]int{"clock_drift": 1}, refusals.byCause)
}

// N refusals from one peer for one cause log one line a minute, with how
// many were held back; another cause or another peer gets its own line.
func TestRefusalLoggingIsBoundedPerPeerAndCause(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	st := NewStatusTracker("me", StatusOptions{})
	r := newRefusalReporter(zap.New(core), st)
	now := time.UnixMilli(1_000_000)
	r.now = func() time.Time { return now }
	drift := &domain.Error{Code: domain.CodeSync, Op: "sync.validate", Msg: "entry refused",
		Err: domain.Errorf(domain.CodeClockDrift, "hlc", "ahead of local time")}
	hash := domain.Errorf(domain.CodeSync, "sync.validate", "hash does not match its contents")

	for range 100 {
		r.report("p", drift)
	}
	require.Equal(t, 1, logs.Len(), "one line for 100 refusals")
	r.report("p", hash)
	r.report("other", drift)
	require.Equal(t, 3, logs.Len(), "another cause, another peer: one line each")
	assert.Len(t, st.RecentErrors(), 3, "recent errors are bounded the same way")

	now = now.Add(refusalLogEvery)
	r.report("p", drift)
	require.Equal(t, 4, logs.Len())
	last := logs.All()[3]
	assert.Equal(t, "clock_drift", last.ContextMap()["cause"])
	assert.Equal(t, int64(99), last.ContextMap()["refused_since_last_logged"])
	assert.Equal(t, int64(101), peerByID(t, st.Peers(), "p").Refused["clock_drift"], "every refusal is counted")
}

// The health rule: refusals are listed while recent; a peer we cannot
// replicate to is listed at once, and makes the node unhealthy once that
// has lasted longer than ReplicationStuckAfter — unless it simply does not
// answer (away, switched off), which is only listed; one good round clears it.
func TestHealthListsRefusalsAndStuckReplication(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(10_000_000)
	clock := func() time.Time { return now }
	st := NewStatusTracker("me", StatusOptions{Now: clock})
	h := NewHealthCheck(okDB{}, st, nil, HealthOptions{Now: clock, ReplicationStuckAfter: time.Minute})

	st.RecordRefused("p", "too_large", 3)
	st.RecordSyncFailure("q", "q:1", domain.Errorf(domain.CodeNetwork, "tcp.Dial", "connection refused"))
	r := h.Check(ctx)
	assert.Contains(t, r.Errors, "peer p: 3 entries refused (too_large)")
	assert.Contains(t, strings.Join(r.Errors, "\n"), "peer q: unreachable: connection refused (1 attempts failed since")
	assert.False(t, r.ReplicationStuck)
	assert.True(t, r.IsHealthy, "a short outage is listed, not unhealthy")

	now = now.Add(time.Minute + time.Millisecond)
	st.RecordSyncFailure("q", "q:1", domain.Errorf(domain.CodeTimeout, "tcp.Dial", "no answer"))
	r = h.Check(ctx)
	assert.Contains(t, strings.Join(r.Errors, "\n"), "peer q: unreachable: no answer (2 attempts failed since")
	assert.False(t, r.ReplicationStuck, "a peer that is away is listed, never stuck")
	assert.True(t, r.IsHealthy)

	st.RecordSyncRound("q", "q:1", 0, 0, domain.Errorf(domain.CodeSync, "memnet.PushChanges", "peer q did not apply"))
	r = h.Check(ctx)
	assert.True(t, r.ReplicationStuck, "stuck for longer than the bound")
	assert.False(t, r.IsHealthy)
	assert.Contains(t, strings.Join(r.Errors, "\n"), "peer q: cannot replicate: peer q did not apply (3 attempts failed since")
	assert.NotContains(t, r.Errors, "peer p: 3 entries refused (too_large)", "old refusals are no longer listed")

	st.RecordSyncSuccess("q", "q:1", 1, 1)
	r = h.Check(ctx)
	assert.False(t, r.ReplicationStuck)
	assert.True(t, r.IsHealthy)
	assert.NotContains(t, strings.Join(r.Errors, "\n"), "cannot replicate")
}

type okDB struct{}

func (okDB) Ping(context.Context) error { return nil }

// A peer never reached has no node id: health names it by address, and
// the run of failures follows it once its id is known.
func TestHealthNamesAPeerNeverReached(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	h := NewHealthCheck(okDB{}, a.status, nil, HealthOptions{})
	net.setDown(b.addr, true)
	require.Error(t, a.engine.SyncNow(ctx))
	require.Error(t, a.engine.SyncNow(ctx))
	r := h.Check(ctx)
	assert.Contains(t, strings.Join(r.Errors, "\n"), "peer "+b.addr+": unreachable: ")
	assert.Contains(t, strings.Join(r.Errors, "\n"), "(2 attempts failed since")

	net.setDown(b.addr, false)
	require.NoError(t, a.engine.SyncNow(ctx))
	r = h.Check(ctx)
	assert.NotContains(t, strings.Join(r.Errors, "\n"), ": unreachable: ")
	require.Len(t, a.status.Peers(), 1, "the record kept by address is gone")
	assert.Zero(t, a.status.Peers()[0].ConsecutiveFailures)
}

func TestRefusalCauseIsTheInnermostCode(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"plain":   {domain.Errorf(domain.CodeSync, "op", "bad hash"), "sync_error"},
		"wrapped": {domain.Wrap(domain.CodeSync, "op", domain.Errorf(domain.CodeTooLarge, "v", "big")), "too_large"},
		"drift": {&domain.Error{Code: domain.CodeSync, Op: "op", Msg: "refused",
			Err: domain.Errorf(domain.CodeClockDrift, "hlc", "ahead")}, "clock_drift"},
		"foreign": {fmt.Errorf("boom"), "internal_error"},
	} {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tc.want, refusalCause(tc.err)) })
	}
}

type countingRefusals struct {
	byCause map[string]int
	pushes  int
	failing int
}

func (c *countingRefusals) PeersFailing(n int) { c.failing = n }

func (c *countingRefusals) EntriesRefused(cause string, n int) {
	if c.byCause == nil {
		c.byCause = map[string]int{}
	}
	c.byCause[cause] += n
}

func (c *countingRefusals) PushRefused() { c.pushes++ }

func peerByID(t *testing.T, peers []ports.PeerStatus, id string) ports.PeerStatus {
	t.Helper()
	for _, p := range peers {
		if p.NodeID == id {
			return p
		}
	}
	t.Fatalf("no peer %s in %+v", id, peers)
	return ports.PeerStatus{}
}
