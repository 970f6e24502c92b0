package test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Node C is away while A and B write, overwrite and delete for longer
// than the retention, so B's maintenance compacts its copy of A's chain
// (holes, with what proving needs kept across them). C comes back to B
// alone (A stopped): B no longer holds what C lacks, so C merges B's
// proven snapshot file, with nothing refused, and holds exactly B's
// documents. A fresh node D then bootstraps from C alone: C's own file,
// which carries what it merged across B's holes, installs without refusal
// and D converges too.
func TestCompactedRelayFileMergedThenServedOn(t *testing.T) {
	nodes := startCompactingMesh(t, 3, "cmerge")
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	const coll = "items"
	put := func(n *testNode, key, body string) {
		t.Helper()
		_, err := n.Client().Put(ctx, coll, key, []byte(body))
		require.NoError(t, err)
	}
	for i := range 20 {
		put(a, fmt.Sprintf("a-%d", i), `{"v":0}`)
		put(b, fmt.Sprintf("b-%d", i), `{"v":0}`)
	}
	for _, n := range nodes {
		eventually(t, 20*time.Second, n.HTTPAddr+" holds the first writes", func() bool {
			docs, ok := n.allDocs(coll)
			return ok && len(docs) == 40
		})
	}
	require.Equal(t, 0, c.stop())

	// Each round A writes a document it keeps, overwrites one it keeps
	// overwriting, and writes another it keeps: B's copy of A's chain is
	// then compacted into kept entries with holes between them, the entry
	// before each hole without a proof (a page ends at a round's last
	// entry), so B keeps a bridge across it. B overwrites and deletes
	// some of its own documents, A deletes some of its first ones.
	for round := 1; round <= 20; round++ {
		put(a, fmt.Sprintf("s-%d", round), fmt.Sprintf(`{"v":%d}`, round))
		put(a, "x", fmt.Sprintf(`{"v":%d}`, round))
		put(a, fmt.Sprintf("t-%d", round), fmt.Sprintf(`{"v":%d}`, round))
		put(b, fmt.Sprintf("b-%d", round%20), fmt.Sprintf(`{"v":%d}`, round))
		if round == 5 {
			for i := 15; i < 20; i++ {
				_, err := a.Client().Delete(ctx, coll, fmt.Sprintf("a-%d", i))
				require.NoError(t, err)
				_, err = b.Client().Delete(ctx, coll, fmt.Sprintf("b-%d", i))
				require.NoError(t, err)
			}
		}
		time.Sleep((maintRetention + time.Second) / 20)
	}
	written := time.Now()
	eventually(t, 30*time.Second, "A and B agree", func() bool {
		da, okA := a.allDocs(coll)
		db, okB := b.allDocs(coll)
		return okA && okB && maps.Equal(da, db)
	})
	// A pass that ended well after every overwrite was older than the
	// retention removed them all.
	eventually(t, 30*time.Second, "B compacted A's chain", func() bool {
		st := b.storage()
		return st.EntriesRemoved >= 19 && st.LastMaintenance > written.Add(maintRetention+2*time.Second).UnixMilli()
	})
	require.Equal(t, 0, a.stop(), "C syncs with B only")
	want, ok := b.allDocs(coll)
	require.True(t, ok)

	logFrom := len(c.Log())
	c.start()
	eventually(t, 60*time.Second, "C holds exactly B's documents", func() bool {
		docs, ok := c.allDocs(coll)
		return ok && maps.Equal(want, docs)
	})
	cLog := c.Log()[logFrom:]
	require.Contains(t, cLog, "merged a peer's snapshot file", "C lacked history B compacted: it took B's file by merge")
	requireNoFileRefusal(t, c, cLog)

	d := newNode(t, nodeSpec{NodeID: "cmerge-3", Peers: []string{c.PeerAddr()}, Env: c.Spec.Env})
	d.start()
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []*testNode{c, d} {
				for _, l := range strings.Split(n.Log(), "\n") {
					if !strings.Contains(l, `"level":"debug"`) {
						t.Log(n.Spec.NodeID, l)
					}
				}
			}
		}
	})
	eventually(t, 60*time.Second, "D holds exactly B's documents", func() bool {
		docs, ok := d.allDocs(coll)
		return ok && maps.Equal(want, docs)
	})
	require.Contains(t, d.Log(), "bootstrapped from a peer's snapshot file", "D installed C's file")
	requireNoFileRefusal(t, d, d.Log())

	for _, n := range []*testNode{b, c, d} {
		require.Equal(t, 0, n.stop())
	}
}

// requireNoFileRefusal: no snapshot file or JSON snapshot was refused by n
// (its log since log, and its refusal metric).
func requireNoFileRefusal(t *testing.T, n *testNode, log string) {
	t.Helper()
	require.NotContains(t, log, "snapshot file was refused")
	require.NotContains(t, log, "JSON snapshot refused")
	status, body, _ := n.httpDo(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	for _, cause := range []string{"snapshot_file", "snapshot_unproven"} {
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, `entgldb_entries_refused_total{cause="`+cause+`"}`) {
				require.True(t, strings.HasSuffix(line, " 0"), line)
			}
		}
	}
}
