package sqlite

import (
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// mergeTarget is node C holding A's first n entries and one write of its
// own.
func mergeTarget(t *testing.T, a *Store, n int) *Store {
	t.Helper()
	ctx := t.Context()
	c := snapTarget(t, nil)
	held, err := a.AuthorEntriesAfter(ctx, "A", domain.Timestamp{}, n)
	require.NoError(t, err)
	_, err = c.ApplyRemote(ctx, pendLWW, held)
	require.NoError(t, err)
	_, err = c.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k3", Op: domain.OpPut,
		Data: []byte(`{"by":"C"}`), Stamp: domain.Timestamp{Wall: pendWall0 + 10_000, Node: "C"}}})
	require.NoError(t, err)
	return c
}

func TestSnapshotFileMergeTakesWhatIsNewerThanTheHeads(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 250)
	c := mergeTarget(t, a, 100)
	f, err := c.ReceiveSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	res, err := f.Merge(ctx, pendLWW)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Len(t, res.Applied, 150, "A's entries after C's head of A")
	vcA, err := a.VectorClock(ctx)
	require.NoError(t, err)
	vc, err := c.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, vcA["A"], vc["A"])
	require.Contains(t, vc, "C")
	d, err := c.Get(ctx, "c", "k3")
	require.NoError(t, err)
	require.JSONEq(t, `{"by":"C"}`, string(d.Data), "C's newer write kept")
	n, err := c.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 250, n)
	key2, ok, err := c.PeerKey(ctx, "A")
	require.NoError(t, err)
	require.True(t, ok, "A's key pinned from the file")
	require.Equal(t, key.Public().(ed25519.PublicKey), ed25519.PublicKey(key2))
	left, err := filepath.Glob(c.Path() + ".incoming-*")
	require.NoError(t, err)
	require.Empty(t, left)

	// What C merged, it proves onward: an empty node installs C's file.
	_, keyC, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	path, err := c.WriteSnapshotFile(ctx, clusterA, ports.SnapshotSigner{Author: "C", PublicKey: keyC.Public().(ed25519.PublicKey),
		Sign: func(link []byte) []byte { return domain.SignHead(keyC, "C", link) }})
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(path) })
	e := pendOpen(t, filepath.Join(t.TempDir(), "e.db"))
	_, err = e.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(path))
	require.NoError(t, err)
}

// A key pinned for an author between the checks and the merge (a
// handshake) must be the key the file's proofs present: otherwise nothing
// is merged.
func TestSnapshotFileMergeRefusesAKeyPinnedSince(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 200)
	c := mergeTarget(t, a, 100)
	before, err := c.VectorClock(ctx)
	require.NoError(t, err)
	f, err := c.ReceiveSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	defer f.Close()
	other, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	require.NoError(t, c.CheckPeerKey(ctx, "A", other))

	_, err = f.Merge(ctx, pendLWW)
	require.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err), fmt.Sprint(err))
	after, err := c.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "nothing merged")
}

// A far-behind node merges the file of a relay whose compaction bridged
// holes in another author's chain (compactproof_test.go): the bridges it
// receives must stay with the entries before the holes, or the node's own
// file would be refused across them by the next node. Held: A's entries up
// to k2 (the bridge after k4 arrives on a taken entry) or up to k4 (the
// bridge belongs on the node's own head).
func TestSnapshotFileMergeKeepsTheRelaysBridges(t *testing.T) {
	t.Parallel()
	r := newCompactedRelay(t)
	relayFile := r.file(t)
	for _, held := range []int{3, 5} {
		t.Run(fmt.Sprint("held ", held), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := snapTarget(t, nil)
			entries, err := r.a.AuthorEntriesAfter(ctx, "A", domain.Timestamp{}, held)
			require.NoError(t, err)
			_, err = c.ApplyRemote(ctx, pendLWW, entries)
			require.NoError(t, err)
			f, err := c.ReceiveSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA, Self: "C"}, fetchFrom(relayFile))
			require.NoError(t, err)
			_, err = f.Merge(ctx, pendLWW)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			for key, digests := range map[string]int{"k4": 2, "k149": 1} {
				proof, bridge, err := decodeStoredProof(column(t, c.Path(), "A", key))
				require.NoError(t, err)
				require.Nil(t, proof, key)
				require.Len(t, bridge, digests, "the bridge after %s kept", key)
			}
			d, _, err := r.install(t, r.fileOf(t, c))
			require.NoError(t, err, "the merged node's own file installs on a fresh node")
			want, err := r.s.Count(ctx, "c", nil)
			require.NoError(t, err)
			n, err := d.Count(ctx, "c", nil)
			require.NoError(t, err)
			require.Equal(t, want, n)
		})
	}
}

// A relay collected A's delete of k10 (a marker row, no entry) while node
// C still holds A's older put of k10. C's merge takes the marker as the
// delete; C's own file must still install on a fresh node: a file whose
// marker row hides an entry of its document is refused, so the merge
// removes the entries the marker supersedes, as compaction would.
func TestSnapshotFileMergeOfACollectedDeleteServesOn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, keyA := snapSource(t, 200)
	sealedA, err := a.Commit(ctx, pendLWW,
		ports.Write{Entry: domain.Entry{Collection: "c", Key: "k10", Op: domain.OpDelete, Stamp: domain.Timestamp{Wall: pendWall0 + 300, Node: "A"}}},
		ports.Write{Entry: domain.Entry{Collection: "c", Key: "k200", Op: domain.OpPut, Data: []byte(`{"n":200}`),
			Stamp: domain.Timestamp{Wall: pendWall0 + 301, Node: "A"}}})
	require.NoError(t, err)
	last := sealedA[len(sealedA)-1]
	require.NoError(t, a.SetProof(ctx, last.Hash, domain.AuthorProof{PublicKey: keyA.Public().(ed25519.PublicKey),
		Signature: domain.SignHead(keyA, "A", last.Link)}))
	all, err := a.EntriesAfter(ctx, domain.Timestamp{}, nil, 1000, 1<<30)
	require.NoError(t, err)

	s := pendOpen(t, filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, s.SetMeta(ctx, "node_id", "S"))
	_, err = s.ApplyRemote(ctx, pendLWW, all)
	require.NoError(t, err)
	held := domain.Timestamp{Wall: pendWall0 + 1_000_000}
	res, err := s.Compact(ctx, domain.CompactionPolicy{Now: pendWall0 + 1_000_000, HeldByAll: domain.VectorClock{"A": held}})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.TombstonesRemoved, "A's delete of k10 collected")
	_, keyS, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	sFile, err := s.WriteSnapshotFile(ctx, clusterA, ports.SnapshotSigner{Author: "S", PublicKey: keyS.Public().(ed25519.PublicKey),
		Sign: func(link []byte) []byte { return domain.SignHead(keyS, "S", link) }})
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(sFile) })

	c := snapTarget(t, nil)
	_, err = c.ApplyRemote(ctx, pendLWW, all[:50])
	require.NoError(t, err)
	f, err := c.ReceiveSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA, Self: "C"}, fetchFrom(sFile))
	require.NoError(t, err)
	_, err = f.Merge(ctx, pendLWW)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = c.Get(ctx, "c", "k10")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(err), "the collected delete taken")

	cFile, err := c.WriteSnapshotFile(ctx, clusterA, ports.SnapshotSigner{})
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(cFile) })
	d := snapTarget(t, keyA.Public().(ed25519.PublicKey))
	_, err = d.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA, Self: "D"}, fetchFrom(cFile))
	require.NoError(t, err, "C's own file installs on a fresh node")
	_, err = d.Get(ctx, "c", "k10")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(err))
	want, err := s.Count(ctx, "c", nil)
	require.NoError(t, err)
	n, err := d.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, want, n)
}
