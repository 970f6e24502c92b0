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
