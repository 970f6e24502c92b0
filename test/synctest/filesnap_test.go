package synctest_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/test/synctest"
)

// File snapshots end to end: an empty node takes a Go peer's database file
// over the Noise channel, then the tail by anti-entropy; a file that fails
// verification is refused and the entry path brings everything instead.

func putMany(t *testing.T, n *synctest.Node, from, count int) {
	t.Helper()
	for i := from; i < from+count; i++ {
		n.Put(t, "docs", fmt.Sprintf("d%04d", i), fmt.Sprintf(`{"i":%d,"text":"document %d"}`, i, i))
	}
}

func countDocs(t *testing.T, n *synctest.Node) int {
	t.Helper()
	c, err := n.DB.Count(context.Background(), "docs", nil)
	require.NoError(t, err)
	return c
}

func noIncomingFiles(t *testing.T, n *synctest.Node) {
	t.Helper()
	left, err := filepath.Glob(n.Store.Path() + ".incoming-*")
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestEmptyNodeBootstrapsFromSnapshotFileThenTail(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	putMany(t, a, 0, 300)

	b := c.AddNode("b", synctest.Options{Compression: true}, nil)
	// A subscriber of b's change feed sees the file's documents arrive (an
	// entry pushed later is already held and announces nothing).
	sub, err := b.DB.Watch(ctx, -1)
	require.NoError(t, err)
	defer sub.Close()
	seen := make(chan int, 1)
	go func() {
		keys := map[string]bool{}
		deadline := time.After(20 * time.Second)
		for len(keys) < 300 {
			select {
			case ch, ok := <-sub.C():
				if !ok {
					seen <- len(keys)
					return
				}
				keys[ch.Key] = true
			case <-deadline:
				seen <- len(keys)
				return
			}
		}
		seen <- len(keys)
	}()
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.EqualValues(t, 1, b.Engine.Stats().Snapshots, "bootstrapped from the file")
	require.Equal(t, 300, countDocs(t, b))
	require.Equal(t, 300, <-seen, "documents the change feed announced")
	require.Equal(t, a.Hash(t), b.Hash(t), "the same documents, oplog and clock")
	noIncomingFiles(t, b)

	// The tail comes by anti-entropy, and b writes as itself.
	putMany(t, a, 300, 20)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.EqualValues(t, 1, b.Engine.Stats().Snapshots, "a node that holds data takes entries")
	require.Equal(t, 320, countDocs(t, b))
	b.Put(t, "docs", "from-b", `{"by":"b"}`)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Equal(t, `{"by":"b"}`, a.Body(t, "docs", "from-b"))
	vc, err := a.Store.VectorClock(ctx)
	require.NoError(t, err)
	require.Contains(t, vc, "b", "b's write is authored by b")
	require.True(t, synctest.Converged(t, c.Nodes))
}

// tamperingService serves a's data, but the snapshot file it sends is
// altered after it was made (or stamped for another cluster).
type tamperingService struct {
	*app.SyncService
	tamper func(t *testing.T, path string)
	t      *testing.T
}

func (s *tamperingService) SnapshotFile(ctx context.Context, peer ports.PeerInfo, cluster string) (string, error) {
	path, err := s.SyncService.SnapshotFile(ctx, peer, cluster)
	if err == nil {
		s.tamper(s.t, path)
	}
	return path, err
}

func execFile(t *testing.T, path string, stmts ...string) {
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

func TestRefusedSnapshotFileFallsBackToEntries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string)
	}{
		{"document altered", func(t *testing.T, path string) {
			execFile(t, path, `UPDATE oplog SET data = '{"i":-1,"forged":true}' WHERE key = 'd0007'`,
				`UPDATE documents SET data = '{"i":-1,"forged":true}' WHERE key = 'd0007'`)
		}},
		{"an entry in another node's name without proof", func(t *testing.T, path string) {
			e := domain.Entry{Collection: "docs", Key: "ghost", Op: domain.OpPut, Data: []byte(`{"by":"not ghost"}`),
				Stamp: domain.Timestamp{Wall: time.Now().UnixMilli(), Node: "ghost"}}
			e.Seal("")
			e.Link = domain.NextLink(domain.GenesisLink, domain.EntryDigest(&e))
			execFile(t, path, fmt.Sprintf(`INSERT INTO oplog (collection, key, op, data, wall, logic, node, hash, prev_hash, link)
				VALUES ('docs', 'ghost', 0, '%s', %d, 0, 'ghost', unhex('%s'), '', x'%x')`, e.Data, e.Stamp.Wall, e.Hash, e.Link),
				fmt.Sprintf(`INSERT INTO documents (collection, key, data, wall, logic, node) VALUES ('docs', 'ghost', '%s', %d, 0, 'ghost')`,
					e.Data, e.Stamp.Wall),
				fmt.Sprintf(`INSERT INTO vclock (author, wall, logic, hash) VALUES ('ghost', %d, 0, '%s')`, e.Stamp.Wall, e.Hash),
				`UPDATE meta SET value = (SELECT max(seq) FROM oplog) WHERE key = 'materialized_seq'`)
		}},
		{"document row altered after its entry was signed", func(t *testing.T, path string) {
			execFile(t, path, `UPDATE documents SET data = '{"i":-1,"forged":true}' WHERE key = 'd0007'`)
		}},
		{"the server's own chain unsigned", func(t *testing.T, path string) {
			execFile(t, path, `UPDATE oplog SET proof = NULL`)
		}},
		{"a document row with no entry", func(t *testing.T, path string) {
			execFile(t, path, fmt.Sprintf(`INSERT INTO documents (collection, key, data, wall, logic, node)
				VALUES ('docs', 'from-nowhere', '{"x":1}', %d, 0, 'n0')`, time.Now().UnixMilli()))
		}},
		{"another cluster", func(t *testing.T, path string) {
			other := protocol.SnapshotClusterTag(protocol.DerivePSK([]byte("another cluster")))
			execFile(t, path, fmt.Sprintf(`UPDATE meta SET value = '%s' WHERE key = 'snapshot_cluster'`, other))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := synctest.Start(t, 1, synctest.Options{Compression: true})
			a := c.Nodes[0]
			putMany(t, a, 0, 100)

			// A second server over a's data, with its own identity, whose
			// files are tampered with.
			relay := serveAs(t, "relay", &tamperingService{SyncService: a.Service, tamper: tc.tamper, t: t})
			b := c.AddNode("b", synctest.Options{Compression: true}, []string{relay})
			require.NoError(t, b.Engine.SyncNow(ctx))
			require.Zero(t, b.Engine.Stats().Snapshots, "the file was refused")
			refused := false
			for _, e := range b.Status.Snapshot(ctx).RecentErrors {
				refused = refused || strings.Contains(e.Message, "snapshot file refused")
			}
			require.True(t, refused, "the refusal is reported")
			counted := int64(0)
			for _, p := range b.Status.Snapshot(ctx).Peers {
				counted += p.Refused["snapshot_file"]
			}
			require.EqualValues(t, 1, counted, "and counted")
			require.Equal(t, 100, countDocs(t, b), "the entries came instead")
			require.JSONEq(t, `{"i":7,"text":"document 7"}`, b.Body(t, "docs", "d0007"))
			noIncomingFiles(t, b)
			require.Equal(t, a.Hash(t), b.Hash(t))
		})
	}
}

// The server compacted: superseded entries are gone (holes in its chain)
// and a delete was collected. Its own chain holds no proofs; it signs each
// stretch of it in the file it serves, so an empty node still takes the
// file over loopback TCP, and the deleted document stays deleted.
func TestBootstrapFromSnapshotFileAfterCompaction(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	putMany(t, a, 0, 200)
	for i := 0; i < 200; i += 7 {
		a.Put(t, "docs", fmt.Sprintf("d%04d", i), fmt.Sprintf(`{"i":%d,"v":2}`, i))
	}
	a.Delete(t, "docs", "d0003")
	a.Put(t, "docs", "last", `{}`)
	res, err := a.Store.Compact(ctx, domain.CompactionPolicy{Now: time.Now().Add(time.Hour).UnixMilli(),
		HeldByAll: domain.VectorClock{a.ID: {Wall: time.Now().Add(time.Hour).UnixMilli(), Node: a.ID}}})
	require.NoError(t, err)
	require.EqualValues(t, 200/7+1+2, res.EntriesRemoved, "superseded puts, d0003's put and its delete")

	b := c.AddNode("b", synctest.Options{Compression: true}, nil)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.EqualValues(t, 1, b.Engine.Stats().Snapshots, "bootstrapped from the file")
	require.Equal(t, 200, countDocs(t, b), "199 of the first documents and the last")
	require.JSONEq(t, `{"i":14,"v":2}`, b.Body(t, "docs", "d0014"))
	noIncomingFiles(t, b)
	vcA, err := a.Store.VectorClock(ctx)
	require.NoError(t, err)
	vcB, err := b.Store.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, vcA, vcB)

	// b's later entries still reach a, and a's reach b.
	putMany(t, a, 500, 5)
	b.Put(t, "docs", "from-b", `{"by":"b"}`)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Equal(t, `{"by":"b"}`, a.Body(t, "docs", "from-b"))
	require.Equal(t, 206, countDocs(t, b))
}

// A relay's file: b holds a's entries with the proofs they arrived with
// (and its own, which it signs in the file); c, which talks only to b,
// installs b's file and proves every author in it.
func TestBootstrapFromARelaysSnapshotFile(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 2, synctest.Options{Compression: true, BatchSize: 64})
	a, b := c.Nodes[0], c.Nodes[1]
	putMany(t, a, 0, 150)
	b.Put(t, "docs", "by-b", `{"by":"b"}`)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Equal(t, 151, countDocs(t, b))

	n := c.AddNode("c", synctest.Options{Compression: true}, []string{b.Addr})
	require.NoError(t, n.Engine.SyncNow(ctx))
	require.EqualValues(t, 1, n.Engine.Stats().Snapshots, "bootstrapped from b's file")
	require.Equal(t, 151, countDocs(t, n))
	require.Equal(t, b.Hash(t), n.Hash(t))
	for _, author := range []*synctest.Node{a, b} {
		_, ok, err := n.Store.PeerKey(ctx, author.ID)
		require.NoError(t, err)
		require.True(t, ok, "the key of %s is pinned", author.ID)
	}
}
