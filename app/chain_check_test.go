package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestCheckChainsFindsLocalChainsIntact(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		for _, k := range []string{"a", "b", "c"} {
			_, err := e.db.Put(t.Context(), "users", k, []byte(`{"n":1}`), nil)
			require.NoError(t, err)
		}
		_, err := e.db.Delete(t.Context(), "users", "b")
		require.NoError(t, err)
		reps, err := app.CheckChains(t.Context(), e.store, "")
		require.NoError(t, err)
		require.Len(t, reps, 1)
		require.Equal(t, "nodeA", reps[0].Author)
		require.True(t, reps[0].Intact, "%+v", reps[0].Break)
		require.Equal(t, 4, reps[0].Entries)
		require.Zero(t, reps[0].Gaps)

		_, err = app.CheckChains(t.Context(), e.store, "nobody")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

// chainFake holds one author's entries as given, however they link.
type chainFake struct {
	entries []domain.Entry
	head    string
}

func (f chainFake) VectorClock(context.Context) (domain.VectorClock, error) {
	return domain.VectorClock{"x": f.entries[len(f.entries)-1].Stamp}, nil
}

func (f chainFake) Heads(context.Context) (map[string]string, error) {
	return map[string]string{"x": f.head}, nil
}

func (f chainFake) AuthorEntriesAfter(_ context.Context, author string, since domain.Timestamp, limit int) ([]domain.Entry, error) {
	var out []domain.Entry
	for _, e := range f.entries {
		if e.Stamp.After(since) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func TestCheckChainsSaysWhereAChainBreaks(t *testing.T) {
	chain := func(n int) []domain.Entry {
		a := newRemoteAuthor("x")
		var es []domain.Entry
		for i := range n {
			es = append(es, a.entry("c", string(rune('a'+i)), domain.OpPut, `{}`))
		}
		return es
	}
	cases := map[string]struct {
		edit   func(es []domain.Entry) []domain.Entry
		intact bool
		gaps   int
		at     int // index of the entry named by the break
		reason string
	}{
		"whole":                {edit: func(es []domain.Entry) []domain.Entry { return es }, intact: true},
		"compacted middle":     {edit: func(es []domain.Entry) []domain.Entry { return append(es[:2:2], es[3:]...) }, intact: true, gaps: 1},
		"starts at a snapshot": {edit: func(es []domain.Entry) []domain.Entry { return es[2:] }, intact: true, gaps: 1},
		"altered entry": {edit: func(es []domain.Entry) []domain.Entry {
			es[3].Key = "changed"
			return es
		}, at: 3, reason: "hash does not match"},
		"fork": {edit: func(es []domain.Entry) []domain.Entry {
			es[3].Seal(es[1].Hash)
			return es
		}, at: 3, reason: "fork"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			orig := chain(5)
			es := tc.edit(append([]domain.Entry(nil), orig...))
			reps, err := app.CheckChains(t.Context(), chainFake{entries: es, head: es[len(es)-1].Hash}, "x")
			require.NoError(t, err)
			require.Len(t, reps, 1)
			r := reps[0]
			require.Equal(t, tc.intact, r.Intact, "%+v", r.Break)
			require.Equal(t, tc.gaps, r.Gaps)
			require.Equal(t, len(es), r.Entries)
			if !tc.intact {
				require.NotNil(t, r.Break)
				require.Equal(t, es[tc.at].Stamp.String(), r.Break.Version)
				require.Contains(t, r.Break.Reason, tc.reason)
			}
		})
	}
	es := chain(3)
	reps, err := app.CheckChains(t.Context(), chainFake{entries: es, head: "0000"}, "")
	require.NoError(t, err)
	require.False(t, reps[0].Intact)
	require.Contains(t, reps[0].Break.Reason, "not the head")
}
