package synctest_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/tcp"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/test/synctest"
)

// A node that already holds data and needs a snapshot (its peer compacted
// the entries it lacks) takes it only as the peer's proven file, merged
// into what it holds; a Go peer's JSON snapshot, which proves nothing of
// its authors, is never installed.

// forgingService serves a's data, but its JSON snapshot carries a document
// in a third node's name and heads ahead of every author's real ones; it
// can also pretend to be a Go node that serves no files.
type forgingService struct {
	*app.SyncService
	noFiles bool
	asked   int
}

func (s *forgingService) GetSnapshot(ctx context.Context, peer ports.PeerInfo) (domain.Snapshot, error) {
	s.asked++
	sn, err := s.SyncService.GetSnapshot(ctx, peer)
	if err != nil {
		return sn, err
	}
	return forgeSnapshot(sn), nil
}

func (s *forgingService) ServesSnapshotFiles() bool {
	return !s.noFiles && s.SyncService.ServesSnapshotFiles()
}

// forgeSnapshot adds a document in the name of "ghost" (a node that never
// wrote it) and moves every head ahead.
func forgeSnapshot(sn domain.Snapshot) domain.Snapshot {
	ahead := time.Now().Add(30 * time.Second).UnixMilli()
	ghost := domain.Timestamp{Wall: ahead, Node: "ghost"}
	sn.Documents = append(sn.Documents, domain.Document{Collection: "docs", Key: "forged",
		Data: []byte(`{"forged":true}`), Stamp: ghost})
	sn.VectorClock["ghost"] = ghost
	sn.Heads["ghost"] = strings.Repeat("ab", 32)
	for author := range sn.VectorClock {
		if author != "ghost" {
			sn.VectorClock[author] = domain.Timestamp{Wall: ahead, Node: author}
			sn.Heads[author] = strings.Repeat("cd", 32)
		}
	}
	return sn
}

// serveAs starts a server with its own identity over svc (a's data).
func serveAs(t *testing.T, id string, svc ports.SyncHandler) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	trust := tcp.Trust{PSK: protocol.DerivePSK([]byte("secret")), Identity: protocol.Identity{NodeID: id, Private: key}}
	srv, err := tcp.NewServer(tcp.ServerOptions{Trust: trust, BindAddress: "127.0.0.1", Compression: true}, svc, nil)
	require.NoError(t, err)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(stop)
	})
	return srv.Addr().String()
}

// compactedAhead leaves b behind a: b holds a's first 100 documents, then a
// rewrites half of them twice and compacts, so the entry after b's head of
// a is gone from a's oplog and b can only catch up from a snapshot.
func compactedAhead(t *testing.T, a, b *synctest.Node) {
	t.Helper()
	ctx := context.Background()
	putMany(t, a, 0, 100)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Equal(t, 100, countDocs(t, b))
	for v := 2; v <= 3; v++ {
		for i := 0; i < 50; i++ {
			a.Put(t, "docs", fmt.Sprintf("d%04d", i), fmt.Sprintf(`{"i":%d,"v":%d}`, i, v))
		}
	}
	later := time.Now().Add(time.Hour).UnixMilli()
	res, err := a.Store.Compact(ctx, domain.CompactionPolicy{Now: later,
		HeldByAll: domain.VectorClock{a.ID: {Wall: later, Node: a.ID}}})
	require.NoError(t, err)
	require.NotZero(t, res.EntriesRemoved)
}

func refusedCount(t *testing.T, n *synctest.Node, cause string) int64 {
	t.Helper()
	var c int64
	for _, p := range n.Status.Snapshot(context.Background()).Peers {
		c += p.Refused[cause]
	}
	return c
}

func recentError(t *testing.T, n *synctest.Node, substr string) bool {
	t.Helper()
	for _, e := range n.Status.Snapshot(context.Background()).RecentErrors {
		if strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

func TestForgedJSONSnapshotFromAGoPeerIsNeverInstalled(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	forger := &forgingService{SyncService: a.Service}
	b := c.AddNode("b", synctest.Options{Compression: true}, []string{serveAs(t, "forger", forger)})
	compactedAhead(t, a, b)
	before := b.Engine.Stats().Snapshots

	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Empty(t, b.Body(t, "docs", "forged"), "the forged document was not installed")
	vc, err := b.Store.VectorClock(ctx)
	require.NoError(t, err)
	require.NotContains(t, vc, "ghost", "no head in the ghost's name")
	vcA, err := a.Store.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, vcA[a.ID], vc[a.ID], "a's head is its real one")
	require.Zero(t, forger.asked, "the JSON snapshot was not even asked for")
	require.Equal(t, before+1, b.Engine.Stats().Snapshots, "b caught up through the peer's file")
	require.JSONEq(t, `{"i":7,"v":3}`, b.Body(t, "docs", "d0007"))
	require.Equal(t, a.Hash(t), b.Hash(t), "b holds exactly a's documents and clock")
	noIncomingFiles(t, b)
}

// A Go peer that serves no files (an older Go node): its JSON snapshot is
// refused, counted and reported, and the node stays where its proven
// entries put it.
func TestJSONSnapshotFromAGoPeerWithoutFilesIsRefused(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	forger := &forgingService{SyncService: a.Service, noFiles: true}
	b := c.AddNode("b", synctest.Options{Compression: true}, []string{serveAs(t, "old-go", forger)})
	compactedAhead(t, a, b)
	vcBefore, err := b.Store.VectorClock(ctx)
	require.NoError(t, err)

	err = b.Engine.SyncNow(ctx)
	require.Zero(t, forger.asked, "the JSON snapshot was not even asked for")
	require.Empty(t, b.Body(t, "docs", "forged"))
	vc, err2 := b.Store.VectorClock(ctx)
	require.NoError(t, err2)
	require.Equal(t, vcBefore, vc, "no head moved")
	require.JSONEq(t, `{"i":7,"text":"document 7"}`, b.Body(t, "docs", "d0007"), "still a's proven version")
	require.EqualValues(t, 1, refusedCount(t, b, "snapshot_unproven"), "counted")
	require.True(t, recentError(t, b, "JSON snapshot proves none of its authors"), "reported: %v", err)
}

// A far-behind node (its peer compacted the entries it lacks) converges
// through the peer's file merged into what it holds: its own writes that
// never reached the peer stay where they win, its chain stays provable (a
// new node installs its file), and its writes still reach the peer.
func TestFarBehindNodeConvergesThroughAFileMerge(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	b := c.AddNode("b", synctest.Options{Compression: true}, nil)
	compactedAhead(t, a, b)
	// b's own writes, which a has not seen: one on a document a rewrote
	// (b's is newer), one a never had.
	b.Put(t, "docs", "d0010", `{"by":"b"}`)
	b.Put(t, "docs", "only-b", `{"by":"b"}`)
	before := b.Engine.Stats().Snapshots

	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Equal(t, before+1, b.Engine.Stats().Snapshots, "caught up through the file")
	require.JSONEq(t, `{"i":7,"v":3}`, b.Body(t, "docs", "d0007"), "a's newer version")
	require.JSONEq(t, `{"i":70,"text":"document 70"}`, b.Body(t, "docs", "d0070"))
	require.JSONEq(t, `{"by":"b"}`, b.Body(t, "docs", "d0010"), "b's newer write kept")
	require.JSONEq(t, `{"by":"b"}`, b.Body(t, "docs", "only-b"))
	require.JSONEq(t, `{"by":"b"}`, a.Body(t, "docs", "only-b"), "and pushed to a in the same round")
	require.Equal(t, a.Hash(t), b.Hash(t))
	noIncomingFiles(t, b)

	// What b merged it proves onward: a new node installs b's file.
	n := c.AddNode("c", synctest.Options{Compression: true}, []string{b.Addr})
	require.NoError(t, n.Engine.SyncNow(ctx))
	require.EqualValues(t, 1, n.Engine.Stats().Snapshots, "installed b's file")
	require.Zero(t, refusedCount(t, n, "snapshot_file"))
	require.Equal(t, b.Hash(t), n.Hash(t))

	// And the chains go on: a's next writes reach b and c.
	putMany(t, a, 500, 3)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.NoError(t, n.Engine.SyncNow(ctx))
	require.True(t, synctest.Converged(t, []*synctest.Node{a, b, n}))
}

// A file that fails its checks during a merge: nothing of it is merged,
// the refusal is counted, and the node keeps what it held.
func TestTamperedFileDuringAMergeMergesNothing(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	served := 0
	relay := &tamperingService{SyncService: a.Service, t: t, tamper: func(t *testing.T, path string) {
		served++
		if served > 1 { // the first file, to the empty node, is honest
			execFile(t, path, `UPDATE oplog SET data = '{"i":-1,"forged":true}' WHERE key = 'd0070'`,
				`UPDATE documents SET data = '{"i":-1,"forged":true}' WHERE key = 'd0070'`)
		}
	}}
	b := c.AddNode("b", synctest.Options{Compression: true}, []string{serveAs(t, "relay", relay)})
	compactedAhead(t, a, b)
	vcBefore, err := b.Store.VectorClock(ctx)
	require.NoError(t, err)
	hashBefore := b.Hash(t)

	_ = b.Engine.SyncNow(ctx) // the gap stays: an error for that author
	require.Equal(t, 2, served, "the merge asked for a file")
	require.Equal(t, hashBefore, b.Hash(t), "nothing merged")
	vc, err := b.Store.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, vcBefore, vc)
	require.JSONEq(t, `{"i":70,"text":"document 70"}`, b.Body(t, "docs", "d0070"))
	require.EqualValues(t, 1, refusedCount(t, b, "snapshot_file"), "counted once")
	require.True(t, recentError(t, b, "snapshot file refused"))
	noIncomingFiles(t, b)
}

// A delete the peer collected (its entry compacted away, a content-free
// marker row left) still reaches a node that held the document: the
// marker lies in a hole of its author's proven chain, after what the node
// held. Markers anywhere else (after the author's proven head, or in the
// name of an author the file holds no chain of) prove nothing and are
// left out.
func TestFileMergeTakesCollectedDeletesOnlyInsideHoles(t *testing.T) {
	ctx := context.Background()
	c := synctest.Start(t, 1, synctest.Options{Compression: true})
	a := c.Nodes[0]
	served := 0
	relay := &tamperingService{SyncService: a.Service, t: t, tamper: func(t *testing.T, path string) {
		served++
		if served == 1 {
			return // the first file, to the empty node, is honest
		}
		later := time.Now().Add(5 * time.Second).UnixMilli()
		execFile(t, path,
			fmt.Sprintf(`INSERT INTO documents (collection, key, data, wall, logic, node, deleted) VALUES ('docs', 'only-b', NULL, %d, 0, '%s', 1)`, later, a.ID),
			fmt.Sprintf(`INSERT INTO documents (collection, key, data, wall, logic, node, deleted) VALUES ('docs', 'only-b2', NULL, %d, 0, 'ghost', 1)`, later))
	}}
	b := c.AddNode("b", synctest.Options{Compression: true}, []string{serveAs(t, "relay", relay)})
	putMany(t, a, 0, 100)
	require.NoError(t, b.Engine.SyncNow(ctx))
	require.Equal(t, 100, countDocs(t, b))
	b.Put(t, "docs", "only-b", `{"by":"b"}`)
	b.Put(t, "docs", "only-b2", `{"by":"b"}`)

	for i := 0; i < 50; i++ {
		a.Put(t, "docs", fmt.Sprintf("d%04d", i), fmt.Sprintf(`{"i":%d,"v":2}`, i))
	}
	a.Delete(t, "docs", "d0060")
	a.Put(t, "docs", "last", `{}`)
	later := time.Now().Add(time.Hour).UnixMilli()
	_, err := a.Store.Compact(ctx, domain.CompactionPolicy{Now: later,
		HeldByAll: domain.VectorClock{a.ID: {Wall: later, Node: a.ID}}})
	require.NoError(t, err)
	held, err := a.Store.AuthorEntriesAfter(ctx, a.ID, domain.Timestamp{}, 1000)
	require.NoError(t, err)
	for _, e := range held {
		require.NotEqual(t, "d0060", e.Key, "the delete and the put before it were collected")
	}

	_ = b.Engine.SyncNow(ctx)
	require.Equal(t, 2, served, "b merged a file")
	require.Empty(t, b.Body(t, "docs", "d0060"), "the collected delete reached b")
	require.JSONEq(t, `{"i":7,"v":2}`, b.Body(t, "docs", "d0007"))
	require.JSONEq(t, `{"by":"b"}`, b.Body(t, "docs", "only-b"), "a marker after a's proven head is left out")
	require.JSONEq(t, `{"by":"b"}`, b.Body(t, "docs", "only-b2"), "a marker of an author with no chain in the file is left out")
	require.JSONEq(t, `{}`, b.Body(t, "docs", "last"))
}
