package synctest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/test/synctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var modes = []struct {
	name string
	opts synctest.Options
}{
	{"noise", synctest.Options{}},
	{"noise+brotli", synctest.Options{Compression: true}},
}

// transports are the networks a scenario that needs no handshake runs on:
// what holds over sockets must hold in memory, and the reverse.
var transports = []struct {
	name string
	opts synctest.Options
}{
	{"tcp", synctest.Options{}},
	{"in-memory", synctest.Options{InMemory: true}},
}

func TestTwoNodes(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			c := synctest.Start(t, 2, mode.opts)
			a, b := c.Nodes[0], c.Nodes[1]

			a.Put(t, "users", "u1", `{"name":"ann"}`)
			b.Put(t, "users", "u2", `{"name":"bob","bio":"`+string(make([]byte, 0))+`x"}`)
			require.NoError(t, a.Engine.SyncNow(ctx))
			assert.Equal(t, `{"name":"ann"}`, b.Body(t, "users", "u1"))
			assert.Equal(t, `{"name":"bob","bio":"x"}`, a.Body(t, "users", "u2"))

			// Concurrent writes to one key: the same LWW winner on both.
			tsA := a.Put(t, "users", "same", `{"by":"a"}`)
			tsB := b.Put(t, "users", "same", `{"by":"b"}`)
			want := `{"by":"a"}`
			if tsB.After(tsA) {
				want = `{"by":"b"}`
			}
			require.NoError(t, b.Engine.SyncNow(ctx))
			assert.Equal(t, want, a.Body(t, "users", "same"))
			assert.Equal(t, want, b.Body(t, "users", "same"))

			// Deletes propagate; a newer write resurrects.
			a.Delete(t, "users", "u2")
			require.NoError(t, a.Engine.SyncNow(ctx))
			assert.Equal(t, "", b.Body(t, "users", "u2"))
			b.Put(t, "users", "u2", `{"name":"bob2"}`)
			require.NoError(t, a.Engine.SyncNow(ctx))
			assert.Equal(t, `{"name":"bob2"}`, a.Body(t, "users", "u2"))
			require.True(t, synctest.Converged(t, c.Nodes))

			st := a.Status.Snapshot(ctx)
			assert.NotZero(t, st.LastSuccessfulSync)
			assert.Positive(t, st.BytesSynced)
		})
	}
}

func TestMeshPartitionHeal(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			o := tr.opts
			o.Run, o.Interval, o.Fanout, o.BatchSize = true, 50*time.Millisecond, 2, 50
			meshPartitionHeal(t, synctest.Start(t, 5, o))
		})
	}
}

func meshPartitionHeal(t *testing.T, c *synctest.Cluster) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(7, 11))
	write := func(group []*synctest.Node, n int) {
		for range n {
			node := group[rnd.IntN(len(group))]
			key := fmt.Sprintf("k%d", rnd.IntN(40))
			if rnd.IntN(5) == 0 {
				if _, err := node.DB.Delete(ctx, "c", key); err != nil {
					require.Equal(t, domain.CodeNotFound, domain.CodeOf(err))
				}
				continue
			}
			node.Put(t, "c", key, fmt.Sprintf(`{"n":%d,"by":%q}`, rnd.IntN(1000), node.ID))
		}
	}
	write(c.Nodes, 60)
	synctest.WaitConverged(t, c.Nodes, 10*time.Second)

	left, right := c.Nodes[:2], c.Nodes[2:]
	c.Partition(left, right, true)
	write(left, 40)
	write(right, 40)
	synctest.WaitConverged(t, left, 10*time.Second)
	synctest.WaitConverged(t, right, 10*time.Second)
	require.NotEqual(t, left[0].Hash(t), right[0].Hash(t))

	c.Partition(left, right, false)
	synctest.WaitConverged(t, c.Nodes, 10*time.Second)
	vc0, err := c.Nodes[0].Store.VectorClock(ctx)
	require.NoError(t, err)
	for _, n := range c.Nodes[1:] {
		vc, err := n.Store.VectorClock(ctx)
		require.NoError(t, err)
		assert.Equal(t, vc0, vc, n.ID)
	}
}

func TestGossipReachesPeersWithoutRounds(t *testing.T) {
	c := synctest.Start(t, 3, synctest.Options{Run: true}) // rounds every hour
	for i := range 30 {
		c.Nodes[i%3].Put(t, "c", fmt.Sprintf("k%d", i), `{"v":1}`)
	}
	synctest.WaitFor(t, 10*time.Second, "gossip to reach every node", func() bool {
		for _, n := range c.Nodes {
			if cnt, err := n.DB.Count(context.Background(), "c", nil); err != nil || cnt != 30 {
				return false
			}
		}
		return true
	})
	synctest.WaitConverged(t, c.Nodes, 5*time.Second)
}

// Prune (unlike compaction) drops the entries of live documents, so a
// pruned node's file cannot prove its rows: an empty node refuses it, and
// refuses the pruned node's JSON snapshot too (a Go peer's JSON snapshot
// proves none of its authors). It installs nothing it cannot prove.
func TestNoUnprovenBootstrapFromAPrunedPeer(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Secure: true, Compression: true})
	a := c.Nodes[0]
	for i := range 200 {
		a.Put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d,"pad":"%0400d"}`, i, i))
	}
	a.Delete(t, "c", "k0")
	pruned, err := a.Store.Prune(ctx, time.Now().UnixMilli()+1)
	require.NoError(t, err)
	require.Positive(t, pruned)

	n := c.AddNode("late", synctest.Options{Secure: true, Compression: true}, nil)
	_ = n.Engine.SyncNow(ctx) // a's chain has a gap n cannot fill
	assert.Zero(t, n.Engine.Stats().Snapshots)
	assert.Equal(t, "", n.Body(t, "c", "k1"), "no unproven document installed")
	vc, err := n.Store.VectorClock(ctx)
	require.NoError(t, err)
	assert.NotContains(t, vc, a.ID, "no head moved")
	var refused int64
	for _, p := range n.Status.Snapshot(ctx).Peers {
		refused += p.Refused["snapshot_file"]
	}
	assert.EqualValues(t, 1, refused, "the pruned peer's file was refused")

	// What a writes from now on is proven; it does not link to anything n
	// holds, so n still waits for a proven history of a.
	a.Put(t, "c", "after", `{"x":1}`)
	_ = n.Engine.SyncNow(ctx)
	assert.Zero(t, n.Engine.Stats().Snapshots)
}

func TestSkewedPeerRejectedOthersFlow(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 2, synctest.Options{})
	a, b := c.Nodes[0], c.Nodes[1]
	s := c.AddNode("skewed", synctest.Options{}, []string{b.Addr})
	s.Skew.Store(5 * 60_000) // five minutes ahead; the limit is one

	b.Put(t, "c", "from-b", `{"ok":true}`)
	s.Put(t, "c", "from-s", `{"skewed":true}`)
	require.NoError(t, s.Engine.SyncNow(ctx)) // s pulls b's entry; b refuses s's push
	require.Equal(t, `{"ok":true}`, s.Body(t, "c", "from-b"))
	assert.Equal(t, "", b.Body(t, "c", "from-s"))
	assert.Positive(t, b.Service.Rejected())

	// a pulls only from s: b's entry flows through, s's own is refused.
	a2 := c.AddNode("a2", synctest.Options{}, []string{s.Addr})
	require.NoError(t, a2.Engine.SyncNow(ctx))
	assert.Equal(t, `{"ok":true}`, a2.Body(t, "c", "from-b"))
	assert.Equal(t, "", a2.Body(t, "c", "from-s"))
	found := false
	for _, e := range a2.Status.RecentErrors() {
		found = found || (e.Code == string(domain.CodeSync) && e.Peer == "skewed" && strings.Contains(e.Message, "ahead of local time"))
	}
	assert.True(t, found, "SYNC_ERROR (clock drift) with the peer recorded: %+v", a2.Status.RecentErrors())
	_ = a
}

func TestWrongClusterKeyNeverReceivesData(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			c := synctest.Start(t, 1, mode.opts)
			a := c.Nodes[0]
			a.Put(t, "c", "secret", `{"v":1}`)
			o := mode.opts
			o.AuthToken = "wrong"
			x := c.AddNode("intruder", o, []string{a.Addr})
			x.Put(t, "c", "junk", `{"v":2}`)

			err := x.Engine.SyncNow(ctx)
			require.Error(t, err)
			assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err), "%v", err)
			assert.Equal(t, "", x.Body(t, "c", "secret"))
			assert.Equal(t, "", a.Body(t, "c", "junk"))
		})
	}
}

func TestOfflineQueueEmptiesWhenPeerReturns(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			o := tr.opts
			o.Queue, o.Run = true, true
			offlineQueueEmptied(t, synctest.Start(t, 2, o))
		})
	}
}

func offlineQueueEmptied(t *testing.T, c *synctest.Cluster) {
	ctx := context.Background()
	a, b := c.Nodes[0], c.Nodes[1]
	c.Partition([]*synctest.Node{a}, []*synctest.Node{b}, true)
	a.Put(t, "c", "k1", `{"v":1}`)
	a.Put(t, "c", "k2", `{"v":2}`)
	synctest.WaitFor(t, 5*time.Second, "changes queued offline", func() bool {
		n, err := a.Queue.Len(ctx)
		return err == nil && n == 2
	})
	c.Partition([]*synctest.Node{a}, []*synctest.Node{b}, false)
	require.NoError(t, a.Engine.SyncNow(ctx))
	n, err := a.Queue.Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, `{"v":2}`, b.Body(t, "c", "k2"))
}

func TestRestartMidSyncLosesNoAcknowledgedWrite(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			o := tr.opts
			o.Run, o.Interval = true, 40*time.Millisecond
			restartMidSync(t, synctest.Start(t, 3, o))
		})
	}
}

func restartMidSync(t *testing.T, c *synctest.Cluster) {
	n0, n1, n2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	acked := map[string]string{}
	// n1 writes all along, from its own goroutine.
	stop := make(chan struct{})
	done := make(chan map[string]string)
	go func() {
		mine := map[string]string{}
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- mine
				return
			default:
			}
			key, body := fmt.Sprintf("n1-%d", i), fmt.Sprintf(`{"i":%d}`, i)
			if _, err := n1.DB.Put(context.Background(), "c", key, []byte(body), nil); err == nil {
				mine[key] = body
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for round := range 2 {
		for i := range 20 {
			key, body := fmt.Sprintf("n0-%d-%d", round, i), fmt.Sprintf(`{"r":%d}`, round)
			n0.Put(t, "c", key, body)
			acked[key] = body
		}
		c.Restart(n2) // mid-sync: rounds and gossip are in flight
		c.Restart(n0) // acknowledged writes must survive the restart
	}
	close(stop)
	for k, v := range <-done {
		acked[k] = v
	}
	synctest.WaitConverged(t, c.Nodes, 15*time.Second)
	for _, n := range []*synctest.Node{n0, n1, n2} {
		for k, v := range acked {
			require.Equal(t, v, n.Body(t, "c", k), "%s lost %s", n.ID, k)
		}
	}
}

// Over real sockets: a push holding entries the receiver refuses is acked
// success=false, the others in it are applied, and the receiver's status
// and health name the peer and the cause.
func TestPushWithRefusedEntriesAckedUnsuccessfulOthersApplied(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 2, synctest.Options{})
	a, b := c.Nodes[0], c.Nodes[1]
	x := c.AddNode("x", synctest.Options{}, []string{})
	s := c.AddNode("skewed", synctest.Options{}, []string{})
	s.Skew.Store(5 * 60_000) // five minutes ahead; the limit is one
	x.Put(t, "c", "x1", `{"ok":1}`)
	x.Put(t, "c", "x2", `{"ok":2}`)
	s.Put(t, "c", "s1", `{"skewed":true}`)
	// x's entries as x serves them, proven by x.
	good, err := x.Service.PullChanges(ctx, ports.PeerInfo{NodeID: "t", AskedClock: true}, ports.PullRequest{})
	require.NoError(t, err)
	skewed, err := s.Store.AuthorEntriesAfter(ctx, "skewed", domain.Timestamp{}, 10)
	require.NoError(t, err)

	sess, err := a.Dialer.Dial(ctx, b.Addr)
	require.NoError(t, err)
	defer sess.Close()
	_, err = sess.PushChanges(ctx, append(good, skewed...))
	require.Error(t, err, "acked success=false")
	assert.Equal(t, domain.CodeSync, domain.CodeOf(err))
	assert.Equal(t, `{"ok":1}`, b.Body(t, "c", "x1"), "the valid entries were applied")
	assert.Equal(t, `{"ok":2}`, b.Body(t, "c", "x2"))
	assert.Equal(t, "", b.Body(t, "c", "s1"))
	_, err = sess.GetVectorClock(ctx)
	require.NoError(t, err, "the session stays usable")

	var refused int64
	for _, p := range b.Status.Peers() {
		if p.NodeID == a.ID {
			refused = p.Refused["clock_drift"]
		}
	}
	assert.Equal(t, int64(1), refused)
	r := app.NewHealthCheck(b.Store, b.Status, nil, app.HealthOptions{}).Check(ctx)
	assert.Contains(t, r.Errors, "peer "+a.ID+": 1 entries refused (clock_drift)")
	assert.True(t, r.IsHealthy, "refusals alone leave the node healthy")
}
