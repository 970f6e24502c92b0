package memory_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A closed memory store refuses work like a closed database, so code that
// uses a store after Close fails in tests too.
func TestClosedStoreFails(t *testing.T) {
	s := memory.New()
	_, err := s.Commit(t.Context(), domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{
		Collection: "c", Key: "k", Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: 1, Node: "A"},
	}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	_, err = s.Get(t.Context(), "c", "k")
	require.ErrorIs(t, err, domain.ErrPersistence)
	require.ErrorIs(t, s.Ping(t.Context()), domain.ErrPersistence)
	_, err = s.EntriesSinceSeq(t.Context(), 0, 0)
	require.ErrorIs(t, err, domain.ErrPersistence)
	_, err = s.CountAuthorEntries(t.Context(), "A", domain.Timestamp{}, 0, 1)
	require.ErrorIs(t, err, domain.ErrPersistence)
}

// Commit needs an author to link the entry into a chain.
func TestCommitWithoutAuthor(t *testing.T) {
	s := memory.New()
	_, err := s.Commit(t.Context(), domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Data: []byte(`{}`)}})
	require.ErrorIs(t, err, domain.ErrInvalidArgument)
}

// A clone is a backup: it holds what the store held, and writes to either
// afterwards do not reach the other.
func TestCloneIsIndependent(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	put := func(s *memory.Store, key string, wall int64) {
		_, err := s.Commit(ctx, domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{
			Collection: "c", Key: key, Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: wall, Node: "A"}}})
		require.NoError(t, err)
	}
	put(s, "k1", 1)
	c := s.Clone()
	put(s, "k2", 2)
	put(c, "k3", 3)

	_, err := c.Get(ctx, "c", "k1")
	require.NoError(t, err)
	_, err = c.Get(ctx, "c", "k2")
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.Get(ctx, "c", "k3")
	require.ErrorIs(t, err, domain.ErrNotFound)
	es, err := c.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, "k3", es[1].Key)
	require.Equal(t, es[0].Hash, es[1].PrevHash, "the clone's chain continues from what it copied")
}
