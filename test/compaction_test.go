package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/ports"
)

// Short maintenance settings for the black-box tests (the *Seconds keys).
const (
	maintRetention          = 4 * time.Second
	maintTombstoneRetention = 2 * time.Second
)

// startCompactingMesh starts n nodes like startMesh, with maintenance
// every second and retentions of seconds.
func startCompactingMesh(t *testing.T, n int, id string) []*testNode {
	t.Helper()
	return startMesh(t, n, nodeSpec{NodeID: id, Env: []string{
		config.EnvPrefix + "MAINTENANCE__INTERVALSECONDS=1",
		config.EnvPrefix + fmt.Sprintf("MAINTENANCE__OPLOGRETENTIONSECONDS=%d", int(maintRetention.Seconds())),
		config.EnvPrefix + fmt.Sprintf("MAINTENANCE__TOMBSTONERETENTIONSECONDS=%d", int(maintTombstoneRetention.Seconds())),
	}})
}

func (n *testNode) storage() ports.StorageReport {
	n.t.Helper()
	st, err := n.Client().Status(context.Background())
	require.NoError(n.t, err)
	return st.Storage
}

// One node is stopped; the others update and delete for longer than the
// retention and compact (tombstones collected); the stopped node comes
// back with offline writes of its own. Every node ends identical, no
// acknowledged write is lost, no deleted document comes back — except the
// one the returning node wrote after the delete, which wins by LWW — and
// the compacting nodes' oplogs really shrank.
func TestCompactionThreeNodesReturningNodeResurrectsNothing(t *testing.T) {
	nodes := startCompactingMesh(t, 3, "compact")
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	const coll = "sensors"
	want := map[string]string{} // key → acknowledged final body
	put := func(n *testNode, key, body string) {
		t.Helper()
		_, err := n.Client().Put(ctx, coll, key, []byte(body))
		require.NoError(t, err)
		want[key] = body
	}

	for i := range 10 {
		put(a, fmt.Sprintf("a-%d", i), `{"v":0}`)
		put(b, fmt.Sprintf("b-%d", i), `{"v":0}`)
		put(a, fmt.Sprintf("del-%d", i), `{"old":true}`)
	}
	for _, n := range nodes {
		eventually(t, 20*time.Second, n.HTTPAddr+" holds the first writes", func() bool {
			docs, ok := n.allDocs(coll)
			return ok && len(docs) == len(want)
		})
	}
	c.stop()

	// A and B delete and update for longer than the retention.
	for i := range 10 {
		_, err := b.Client().Delete(ctx, coll, fmt.Sprintf("del-%d", i))
		require.NoError(t, err)
		delete(want, fmt.Sprintf("del-%d", i))
	}
	writes := 3 * 10
	for round := 1; ; round++ {
		for i := range 10 {
			put(a, fmt.Sprintf("a-%d", i), fmt.Sprintf(`{"v":%d}`, round))
			put(b, fmt.Sprintf("b-%d", i), fmt.Sprintf(`{"v":%d}`, round))
			writes += 2
		}
		if round >= 20 {
			break
		}
		time.Sleep((maintRetention + time.Second) / 20) // spread over more than the retention
	}
	for _, n := range []*testNode{a, b} {
		eventually(t, 30*time.Second, n.HTTPAddr+" compacted and collected the tombstones", func() bool {
			st := n.storage()
			return st.TombstonesRemoved >= 10 && st.OplogEntries < int64(writes)/4
		})
	}

	// C comes back cut off first, and writes: new keys, and del-0 again
	// after the delete (a later write, which must win).
	_, err := c.Isolate(ctx, readyWithin)
	require.NoError(t, err)
	for i := range 5 {
		put(c, fmt.Sprintf("c-%d", i), `{"offline":true}`)
	}
	put(c, "del-0", `{"after_delete":true}`)
	require.NoError(t, c.Heal(ctx, stopWithin, readyWithin))

	for _, n := range nodes {
		eventually(t, 60*time.Second, n.HTTPAddr+" converges on every acknowledged write and nothing else", func() bool {
			docs, ok := n.allDocs(coll)
			if !ok || len(docs) != len(want) {
				return false
			}
			for k, v := range want {
				if got, ok := docs[k]; !ok || got != v {
					return false
				}
			}
			return true
		})
	}
	require.Contains(t, c.Log(), "merged a peer's snapshot file",
		"C was away past the retention: the history it lacked was compacted, a snapshot brought it up to date")
	for i := 1; i < 10; i++ {
		for _, n := range nodes {
			require.False(t, n.has(coll, fmt.Sprintf("del-%d", i)), "del-%d resurrected on %s", i, n.HTTPAddr)
		}
	}
}
