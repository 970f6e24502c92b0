package familypeer_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/entgldb/entgldb-go/test/familypeer"
	"github.com/entgldb/entgldb-go/test/synctest"
)

const token = "family-secret"

func newPeer(t *testing.T, o familypeer.Options) *familypeer.Peer {
	t.Helper()
	o.Token = token
	p, err := familypeer.New(o)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

// goNode is a Go node (SQLite in t.TempDir, TCP on loopback) that lists
// the family peers as legacy peers and, with static, dials them itself.
func goNode(t *testing.T, o synctest.Options, legacy []string, static bool) *synctest.Node {
	t.Helper()
	o.AuthToken, o.LegacyPeers = token, legacy
	if os.Getenv("FAMILY_LOG") != "" {
		o.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	c := synctest.Start(t, 0, o)
	var peers []string
	if static {
		peers = legacy
	}
	return c.AddNode("go-1", o, append([]string{}, peers...))
}

// live is every live document of a Go node: collection/key → JSON.
func live(t *testing.T, n *synctest.Node) map[string]string {
	t.Helper()
	sn, err := n.Store.Snapshot(context.Background())
	require.NoError(t, err)
	out := map[string]string{}
	for _, d := range sn.Documents {
		if !d.Deleted {
			out[d.Collection+"/"+d.Key] = string(d.Data)
		}
	}
	return out
}

// converge waits until the Go node and the peer hold the same live
// documents, and those are want.
func converge(t *testing.T, n *synctest.Node, p *familypeer.Peer, want map[string]string) {
	t.Helper()
	synctest.WaitFor(t, 30*time.Second, "the Go node and "+p.NodeID()+" to hold the same documents", func() bool {
		return maps.Equal(live(t, n), want) && maps.Equal(p.Live(), want)
	})
}

// stays asserts the state holds for a while: no lasting divergence.
func stays(t *testing.T, n *synctest.Node, p *familypeer.Peer, want map[string]string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		require.Equal(t, want, live(t, n), "the Go node drifted")
		require.Equal(t, want, p.Live(), "%s drifted", p.NodeID())
	}
}

// A Go node and a 2.3.8 node each dialling the other converge both ways,
// deletes included; the C# client keeps one pooled connection.
func TestCSharpPeerConvergesBothWays(t *testing.T) {
	cs := newPeer(t, familypeer.Options{Flavor: familypeer.CSharp, NodeID: "csharp-a", Interests: []string{"users", "orders"}})
	g := goNode(t, synctest.Options{Interval: 150 * time.Millisecond, Run: true}, []string{cs.Addr()}, true)
	g.Put(t, "users", "g1", `{"by":"go"}`)
	g.Put(t, "users", "g2", `{"by":"go","n":2}`)
	cs.Put("users", "c1", `{"by":"c#"}`)
	cs.Put("orders", "c2", `{"by":"c#","ü":"ß"}`)
	cs.Run(g.Addr, 150*time.Millisecond)
	want := map[string]string{"users/g1": `{"by":"go"}`, "users/g2": `{"by":"go","n":2}`,
		"users/c1": `{"by":"c#"}`, "orders/c2": `{"by":"c#","ü":"ß"}`}
	converge(t, g, cs, want)

	g.Delete(t, "users", "c1")
	cs.Delete("users", "g2")
	delete(want, "users/c1")
	delete(want, "users/g2")
	converge(t, g, cs, want)
	stays(t, g, cs, want, time.Second)
	require.EqualValues(t, 1, cs.Stats.Handshakes.Load(), "one pooled connection, handshaken once")
	require.Greater(t, cs.Stats.Rounds.Load(), int64(3))
	require.Zero(t, cs.Stats.RoundErrors.Load(), cs.LastRoundError())
}

// A 2.3.8 node on BLite pushes a peer only the collections it announced:
// a Go node that never dials it still receives its writes, deletes too,
// because it announces its collections.
func TestCSharpPeerPushesToUsOnOurInterests(t *testing.T) {
	cs := newPeer(t, familypeer.Options{Flavor: familypeer.CSharp, NodeID: "csharp-a", Interests: []string{"users"}})
	g := goNode(t, synctest.Options{}, []string{cs.Addr()}, false) // no rounds of its own
	g.Put(t, "users", "g1", `{"by":"go"}`)
	cs.Put("users", "c1", `{"by":"c#"}`)
	cs.Put("users", "c2", `{"by":"c#"}`)
	cs.Run(g.Addr, 100*time.Millisecond)
	want := map[string]string{"users/g1": `{"by":"go"}`, "users/c1": `{"by":"c#"}`, "users/c2": `{"by":"c#"}`}
	converge(t, g, cs, want)
	cs.Delete("users", "c2")
	delete(want, "users/c2")
	converge(t, g, cs, want)
}

// A 2.3.8 node answers a pull with its whole oplog at once. An answer
// above Network.MaxResponseBytes makes the Go node pull collection by
// collection; one collection above it fails the round saying so.
func TestCSharpPeerUnpagedAnswer(t *testing.T) {
	pad := strings.Repeat("x", 8<<10)
	cs := newPeer(t, familypeer.Options{Flavor: familypeer.CSharp, NodeID: "csharp-a", Interests: []string{"a", "b", "c"}})
	want := map[string]string{}
	for _, col := range []string{"a", "b", "c"} {
		for i := range 40 { // ~330 KiB a collection
			body := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, pad)
			cs.Put(col, fmt.Sprint("k", i), body)
			want[col+"/"+fmt.Sprint("k", i)] = body
		}
	}
	cs.Delete("b", "k3")
	delete(want, "b/k3")
	o := synctest.Options{MaxFrameBytes: 64 << 10, MaxResponseBytes: 512 << 10}
	g := goNode(t, o, []string{cs.Addr()}, true)
	require.NoError(t, g.Engine.SyncNow(t.Context()), "the whole answer (~1 MiB) is over the limit, each collection under it")
	require.Equal(t, want, live(t, g))

	g.Put(t, "b", "from-go", `{"by":"go"}`)
	require.NoError(t, g.Engine.SyncNow(t.Context()))
	want["b/from-go"] = `{"by":"go"}`
	require.Equal(t, want, cs.Live(), "pushed back")

	// A collection neither side announced is not pulled by name: the
	// peer's vector clock stays ahead, and its snapshot fills the rest.
	for i := range 80 {
		cs.Put("unannounced", fmt.Sprint("h", i), `{"pad":"`+pad+`"}`)
		want["unannounced/"+fmt.Sprint("h", i)] = `{"pad":"` + pad + `"}`
	}
	require.NoError(t, g.Engine.SyncNow(t.Context()))
	require.Equal(t, want, live(t, g))

	for i := range 80 {
		cs.Put("c", fmt.Sprint("h", i), `{"pad":"`+pad+`"}`)
	}
	err := g.Engine.SyncNow(t.Context())
	require.Error(t, err)
	require.Contains(t, err.Error(), "Network.MaxResponseBytes", "never a silent stall")
}

// A 2.3.8 node whose history was compacted answers the Go node's chain
// range snapshot_required; the Go node reads its SnapshotDto. And a Go
// node asked a range it cannot serve sends the C# node a snapshot it can
// read.
func TestCSharpPeerSnapshotsBothWays(t *testing.T) {
	cs := newPeer(t, familypeer.Options{Flavor: familypeer.CSharp, NodeID: "csharp-a", Interests: []string{"users"}})
	want := map[string]string{}
	for i := range 5 {
		cs.Put("users", fmt.Sprint("c", i), fmt.Sprintf(`{"i":%d}`, i))
		want[fmt.Sprint("users/c", i)] = fmt.Sprintf(`{"i":%d}`, i)
	}
	cs.Delete("users", "c0")
	delete(want, "users/c0")
	cs.Prune(3)
	g := goNode(t, synctest.Options{}, []string{cs.Addr()}, true)
	require.NoError(t, g.Engine.SyncNow(t.Context()))
	require.Equal(t, want, live(t, g))
	require.Positive(t, g.Engine.Stats().Snapshots, "bootstrapped from the C# node's SnapshotDto")

	g.Put(t, "users", "g1", `{"by":"go"}`)
	want["users/g1"] = `{"by":"go"}`
	cs.LoseChain("go-1")
	cs.Run(g.Addr, 100*time.Millisecond)
	synctest.WaitFor(t, 20*time.Second, "the C# node to merge the Go node's snapshot", func() bool {
		return cs.Stats.SnapshotsMerged.Load() > 0
	})
	converge(t, g, cs, want)
}

// The TypeScript node spells "put"/"delete", answers no clock and pulls
// only what is newer than its newest document. The Go node learns that
// once (no clock request is left unanswered after the first rounds), pushes
// to it so that a Go write older than the node's own newest one still
// reaches it, and spells deletes as it reads them.
func TestTypeScriptPeerConvergesBothWays(t *testing.T) {
	ts := newPeer(t, familypeer.Options{Flavor: familypeer.TypeScript, NodeID: "ts-1"})
	g := goNode(t, synctest.Options{Interval: 150 * time.Millisecond, Run: true, RequestTimeout: time.Second},
		[]string{ts.Addr()}, true)
	g.Put(t, "users", "g1", `{"by":"go"}`) // before the TypeScript node's own write
	ts.Put("users", "t1", `{"by":"ts","ü":"€"}`)
	ts.Run(g.Addr, 150*time.Millisecond)
	want := map[string]string{"users/g1": `{"by":"go"}`, "users/t1": `{"by":"ts","ü":"€"}`}
	converge(t, g, ts, want)

	g.Delete(t, "users", "t1")
	g.Put(t, "users", "g2", `{"by":"go","n":2}`)
	ts.Delete("users", "g1")
	delete(want, "users/t1")
	delete(want, "users/g1")
	want["users/g2"] = `{"by":"go","n":2}`
	converge(t, g, ts, want)

	unanswered := ts.Stats.Unanswered.Load()
	rounds := g.Engine.Stats().Rounds
	synctest.WaitFor(t, 10*time.Second, "more rounds", func() bool { return g.Engine.Stats().Rounds >= rounds+5 })
	require.Equal(t, unanswered, ts.Stats.Unanswered.Load(), "a pull-only peer is remembered, not probed every round")
	stays(t, g, ts, want, time.Second)
}

// A pull-only node whose server takes no pushes is asked once and then
// left to its own pulls: rounds stop waiting on it, and what it pulls
// (newer than its newest document) still converges.
func TestTypeScriptPeerTakingNoPushes(t *testing.T) {
	ts := newPeer(t, familypeer.Options{Flavor: familypeer.TypeScript, NodeID: "ts-1", NoPushes: true})
	g := goNode(t, synctest.Options{Interval: 150 * time.Millisecond, Run: true, RequestTimeout: time.Second},
		[]string{ts.Addr()}, true)
	ts.Put("users", "t1", `{"by":"ts"}`)
	ts.Run(g.Addr, 150*time.Millisecond)
	synctest.WaitFor(t, 20*time.Second, "the Go node to pull the TypeScript node's write", func() bool {
		return live(t, g)["users/t1"] == `{"by":"ts"}`
	})
	g.Put(t, "users", "g1", `{"by":"go"}`) // newer than its newest: it pulls it
	want := map[string]string{"users/t1": `{"by":"ts"}`, "users/g1": `{"by":"go"}`}
	converge(t, g, ts, want)
	rounds := g.Engine.Stats().Rounds
	synctest.WaitFor(t, 10*time.Second, "requests in flight to end", func() bool { return g.Engine.Stats().Rounds >= rounds+3 })
	unanswered := ts.Stats.Unanswered.Load()
	rounds = g.Engine.Stats().Rounds
	g.Put(t, "users", "g2", `{"by":"go","n":2}`) // not gossiped to it either
	want["users/g2"] = `{"by":"go","n":2}`
	synctest.WaitFor(t, 10*time.Second, "more rounds", func() bool { return g.Engine.Stats().Rounds >= rounds+5 })
	require.Equal(t, unanswered, ts.Stats.Unanswered.Load(), "neither its clock nor its pushes are asked again")
	require.Zero(t, ts.Stats.PushesTaken.Load())
	converge(t, g, ts, want)
}
