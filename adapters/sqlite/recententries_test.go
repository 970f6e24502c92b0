package sqlite

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// TestProofLookupsAfterAPageRead: once a page was read, the link before
// the next page (its authors' last entries) and the proof kept on a run's
// last entry are found without a scan by hash, with the same answers as
// the scan; after Prune nothing stale is answered.
func TestProofLookupsAfterAPageRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "db"))
	var writes []ports.Write
	for i := range 6 {
		node := []string{"A", "B"}[i%2]
		writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: string(rune('a' + i)), Op: domain.OpPut,
			Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: pendWall0 + int64(i), Node: node}}})
	}
	out, err := s.Commit(ctx, pendLWW, writes...)
	require.NoError(t, err)
	page, err := s.EntriesAfter(ctx, domain.Timestamp{}, nil, 4, 0)
	require.NoError(t, err)
	require.Len(t, page, 4)
	lastA, lastB := page[2], page[3]
	for _, e := range []domain.Entry{lastA, lastB} {
		_, ok := s.recent.lookup(e.Hash)
		require.True(t, ok, "the page's last entry of %s is remembered", e.Author())
		link, err := s.LinkOf(ctx, e.Hash)
		require.NoError(t, err)
		require.Equal(t, e.Link, link)
	}
	_, ok := s.recent.lookup(page[0].Hash)
	require.False(t, ok, "only each author's last entry is remembered")
	link, err := s.LinkOf(ctx, page[0].Hash)
	require.NoError(t, err)
	require.Equal(t, out[0].Link, link, "the scan finds the others")

	proof := domain.AuthorProof{PublicKey: make([]byte, ed25519.PublicKeySize), Signature: make([]byte, ed25519.SignatureSize)}
	require.NoError(t, s.SetProof(ctx, lastA.Hash, proof))
	tail, got, err := s.ProofAfter(ctx, "A", page[0].Stamp)
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Equal(t, [][]byte{domain.EntryDigest(&lastA)}, tail)

	_, err = s.Prune(ctx, out[4].Stamp.Wall)
	require.NoError(t, err)
	_, ok = s.recent.lookup(lastB.Hash)
	require.False(t, ok, "Prune forgets")
	link, err = s.LinkOf(ctx, lastB.Hash)
	require.NoError(t, err)
	require.Nil(t, link, "a pruned entry's link is unknown")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(s.SetProof(ctx, lastB.Hash, proof)))
}
