package porttest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// groupedEntries returns entries of three authors where several share
// (wall, logical), in HLC order, and applies them to s out of order.
//
//	(10,0): A B C   (11,0): A   (12,0): A B   (12,1): C
func groupedEntries(t *testing.T, s ports.Store) []domain.Entry {
	t.Helper()
	a, b, c := newAuthor("A"), newAuthor("B"), newAuthor("C")
	ordered := []domain.Entry{
		a.put("users", "k1", `{"n":1}`, 10, 0),
		b.put("items", "k2", `{"n":2}`, 10, 0),
		c.put("users", "k3", `{"n":3}`, 10, 0),
		a.put("items", "k4", `{"n":4}`, 11, 0),
		a.del("users", "k1", 12, 0),
		b.put("users", "k5", `{"n":5}`, 12, 0),
		c.put("items", "k6", `{"n":6}`, 12, 1),
	}
	mustApply(t, s, lww, ordered[6], ordered[2], ordered[4], ordered[0], ordered[5], ordered[3], ordered[1])
	return ordered
}

func sizeOf(es ...domain.Entry) int {
	n := 0
	for i := range es {
		n += es[i].Size()
	}
	return n
}

func entriesAfter(t *testing.T, s ports.Store, since domain.Timestamp, colls []string, maxEntries, maxBytes int) []domain.Entry {
	t.Helper()
	es, err := s.EntriesAfter(t.Context(), since, colls, maxEntries, maxBytes)
	require.NoError(t, err)
	return es
}

func filterColl(es []domain.Entry, coll string) []domain.Entry {
	var out []domain.Entry
	for _, e := range es {
		if e.Collection == coll {
			out = append(out, e)
		}
	}
	return out
}

var oplogCases = []storeCase{
	{"EntriesAfterHLCOrder", func(t *testing.T, open OpenStore) {
		s := open(t)
		all := groupedEntries(t, s)
		sameEntries(t, all, entriesAfter(t, s, domain.Timestamp{}, nil, 0, 0))
		sameEntries(t, all[3:], entriesAfter(t, s, ts(10, 0, "C"), nil, 0, 0))
		// "Strictly after (wall, logical)": the node of since is ignored, so
		// a since inside a group skips the whole group (that is what makes
		// paging on the last stamp of a page correct).
		sameEntries(t, all[3:], entriesAfter(t, s, ts(10, 0, ""), nil, 0, 0))
		sameEntries(t, all[3:], entriesAfter(t, s, ts(10, 0, "A"), nil, 0, 0))
		sameEntries(t, all[6:], entriesAfter(t, s, ts(12, 0, "A"), nil, 0, 0))
		require.Empty(t, entriesAfter(t, s, ts(12, 1, "C"), nil, 0, 0))
		require.Empty(t, entriesAfter(t, s, ts(99, 0, ""), nil, 0, 0))
	}},
	{"EntriesAfterPagesByEntries", func(t *testing.T, open OpenStore) {
		// Decision on limits: whole (wall, logical) groups are added while
		// the page stays within maxEntries and maxBytes (<= 0: no limit);
		// the first group is always returned whole, even when it alone
		// exceeds a limit, so a reader always makes progress.
		s := open(t)
		all := groupedEntries(t, s)
		sameEntries(t, all[0:3], entriesAfter(t, s, domain.Timestamp{}, nil, 2, 0))
		sameEntries(t, all[3:4], entriesAfter(t, s, all[2].Stamp, nil, 2, 0))
		sameEntries(t, all[4:6], entriesAfter(t, s, all[3].Stamp, nil, 2, 0))
		sameEntries(t, all[6:7], entriesAfter(t, s, all[5].Stamp, nil, 2, 0))
		require.Empty(t, entriesAfter(t, s, all[6].Stamp, nil, 2, 0))

		sameEntries(t, all[0:4], entriesAfter(t, s, domain.Timestamp{}, nil, 4, 0))
		sameEntries(t, all[4:7], entriesAfter(t, s, all[3].Stamp, nil, 4, 0))
		sameEntries(t, all[0:3], entriesAfter(t, s, domain.Timestamp{}, nil, 1, 0))
	}},
	{"EntriesAfterPagesByBytes", func(t *testing.T, open OpenStore) {
		s := open(t)
		all := groupedEntries(t, s)
		sameEntries(t, all[0:4], entriesAfter(t, s, domain.Timestamp{}, nil, 0, sizeOf(all[0:4]...)))
		sameEntries(t, all[0:3], entriesAfter(t, s, domain.Timestamp{}, nil, 0, sizeOf(all[0:4]...)-1))
		sameEntries(t, all[0:3], entriesAfter(t, s, domain.Timestamp{}, nil, 0, 1))
		// Both limits apply; the tighter one wins.
		sameEntries(t, all[0:3], entriesAfter(t, s, domain.Timestamp{}, nil, 3, sizeOf(all...)))
		sameEntries(t, all[3:6], entriesAfter(t, s, all[2].Stamp, nil, 10, sizeOf(all[3:6]...)))
	}},
	{"EntriesAfterCollections", func(t *testing.T, open OpenStore) {
		s := open(t)
		all := groupedEntries(t, s)
		sameEntries(t, filterColl(all, "items"), entriesAfter(t, s, domain.Timestamp{}, []string{"items"}, 0, 0))
		sameEntries(t, all, entriesAfter(t, s, domain.Timestamp{}, []string{"items", "users"}, 0, 0))
		sameEntries(t, all, entriesAfter(t, s, domain.Timestamp{}, []string{}, 0, 0))
		require.Empty(t, entriesAfter(t, s, domain.Timestamp{}, []string{"nothing"}, 0, 0))
		// Paging counts only the entries that pass the filter.
		users := filterColl(all, "users") // (10,0)A (10,0)C (12,0)A (12,0)B
		sameEntries(t, users[0:2], entriesAfter(t, s, domain.Timestamp{}, []string{"users"}, 1, 0))
		sameEntries(t, users[2:4], entriesAfter(t, s, users[1].Stamp, []string{"users"}, 3, 0))
	}},
	{"EntriesAfterPagingWalk", func(t *testing.T, open OpenStore) {
		// Walking pages from the last stamp of each page yields every entry
		// exactly once, in HLC order, and no page splits a group.
		s := open(t)
		rng := rand.New(rand.NewPCG(7, 11))
		authors := []*author{newAuthor("A"), newAuthor("B"), newAuthor("C")}
		var all []domain.Entry
		for i := range 90 {
			wall, logical := int64(i/6), int32(i%6/3)
			a := authors[i%3]
			all = append(all, a.put("c", fmt.Sprintf("k%d", rng.IntN(20)), fmt.Sprintf(`{"i":%d}`, i), wall, logical))
		}
		shuffled := slices.Clone(all)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		mustApply(t, s, lww, shuffled[:45]...)
		mustApply(t, s, lww, shuffled[45:]...)
		slices.SortFunc(all, func(x, y domain.Entry) int { return x.Stamp.Compare(y.Stamp) })

		for _, limit := range []int{1, 2, 4, 5, 7} {
			var got []domain.Entry
			since := domain.Timestamp{}
			for pages := 0; ; pages++ {
				require.Less(t, pages, 100, "paging does not terminate")
				page := entriesAfter(t, s, since, nil, limit, 0)
				if len(page) == 0 {
					break
				}
				first, last := page[0].Stamp, page[len(page)-1].Stamp
				sameGroup := first.Wall == last.Wall && first.Logical == last.Logical
				require.True(t, len(page) <= limit || sameGroup, "page of %d over limit %d: %v", len(page), limit, stamps(page))
				got = append(got, page...)
				since = last
			}
			sameEntries(t, all, got)
		}
	}},
	{"AuthorEntriesAfter", func(t *testing.T, open OpenStore) {
		s := open(t)
		all := groupedEntries(t, s)
		var a []domain.Entry
		for _, e := range all {
			if e.Author() == "A" {
				a = append(a, e)
			}
		}
		got, err := s.AuthorEntriesAfter(t.Context(), "A", domain.Timestamp{}, 0)
		require.NoError(t, err)
		sameEntries(t, a, got)
		got, err = s.AuthorEntriesAfter(t.Context(), "A", a[0].Stamp, 0)
		require.NoError(t, err)
		sameEntries(t, a[1:], got)
		got, err = s.AuthorEntriesAfter(t.Context(), "A", domain.Timestamp{}, 2)
		require.NoError(t, err)
		sameEntries(t, a[:2], got)
		got, err = s.AuthorEntriesAfter(t.Context(), "A", a[2].Stamp, 5)
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = s.AuthorEntriesAfter(t.Context(), "nobody", domain.Timestamp{}, 0)
		require.NoError(t, err)
		require.Empty(t, got)
	}},
	{"ChainRange", func(t *testing.T, open OpenStore) {
		s := open(t)
		a, b := newAuthor("A"), newAuthor("B")
		a1, a2 := a.put("c", "k1", `{}`, 1, 0), a.put("c", "k2", `{}`, 2, 0)
		b1 := b.put("c", "k1", `{}`, 2, 5)
		a3, a4 := a.del("c", "k1", 3, 0), a.put("c", "k3", `{}`, 4, 0)
		mustApply(t, s, lww, a4, b1, a2, a1, a3)
		ctx := t.Context()

		got, err := s.ChainRange(ctx, "", a4.Hash)
		require.NoError(t, err)
		sameEntries(t, []domain.Entry{a1, a2, a3, a4}, got)
		got, err = s.ChainRange(ctx, a1.Hash, a3.Hash)
		require.NoError(t, err)
		sameEntries(t, []domain.Entry{a2, a3}, got)
		got, err = s.ChainRange(ctx, a3.Hash, a3.Hash)
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = s.ChainRange(ctx, "", b1.Hash)
		require.NoError(t, err)
		sameEntries(t, []domain.Entry{b1}, got)

		// Decision: an unknown end is NOT_FOUND (we never held it); an
		// unknown start means we cannot serve the history the peer asks
		// for, so it is ErrHistoryPruned (the peer bootstraps instead).
		_, err = s.ChainRange(ctx, "", "0000")
		requireCode(t, err, domain.CodeNotFound)
		_, err = s.ChainRange(ctx, "ffff", a4.Hash)
		require.ErrorIs(t, err, ports.ErrHistoryPruned)
	}},
	{"EntriesSinceSeq", func(t *testing.T, open OpenStore) {
		s := open(t)
		b := newAuthor("B")
		// Seq order is arrival order, not HLC order.
		e2, e1 := b.put("c", "k2", `{}`, 2, 0), b.put("c", "k1", `{}`, 1, 0)
		mustApply(t, s, lww, e1, e2)
		local := mustCommit(t, s, lww, putW("c", "k3", `{}`, ts(0, 5, "A")))
		all, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Len(t, all, 3)
		// e1 was built after e2 (its PrevHash is e2's) but arrived first.
		sameEntries(t, []domain.Entry{e1, e2, local[0]}, all)
		require.Equal(t, local[0].Seq, all[2].Seq)

		got, err := s.EntriesSinceSeq(t.Context(), all[0].Seq, 1)
		require.NoError(t, err)
		sameEntries(t, all[1:2], got)
		require.Equal(t, all[1].Seq, got[0].Seq)
		got, err = s.EntriesSinceSeq(t.Context(), all[0].Seq, 0)
		require.NoError(t, err)
		sameEntries(t, all[1:], got)
		got, err = s.EntriesSinceSeq(t.Context(), all[2].Seq, 10)
		require.NoError(t, err)
		require.Empty(t, got)
	}},
	{"NewestStampIsTrueMaximum", func(t *testing.T, open OpenStore) {
		s := open(t)
		newest, err := s.NewestStamp(t.Context())
		require.NoError(t, err)
		require.True(t, newest.IsZero())
		// Per-column maxima would give (5, 9); the true maximum row is (5, 0).
		b, c, a := newAuthor("B"), newAuthor("C"), newAuthor("A")
		mustApply(t, s, lww, c.put("c", "k1", `{}`, 4, 9), b.put("c", "k2", `{}`, 5, 0), a.put("c", "k3", `{}`, 5, 0))
		newest, err = s.NewestStamp(t.Context())
		require.NoError(t, err)
		require.Equal(t, ts(5, 0, "B"), newest)
		// A losing entry still counts: the oplog, not the documents.
		mustApply(t, s, lww, c.put("c", "k2", `{}`, 5, 0))
		newest, err = s.NewestStamp(t.Context())
		require.NoError(t, err)
		require.Equal(t, ts(5, 0, "C"), newest)
	}},
	{"LastSeqIsGreatestGiven", func(t *testing.T, open OpenStore) {
		s := open(t)
		last, err := s.LastSeq(t.Context())
		require.NoError(t, err)
		require.Zero(t, last)
		out := mustCommit(t, s, lww, putW("c", "k1", `{}`, ts(1, 0, "A")), putW("c", "k2", `{}`, ts(2, 0, "A")))
		last, err = s.LastSeq(t.Context())
		require.NoError(t, err)
		require.Equal(t, out[1].Seq, last)
		b := newAuthor("B")
		res := mustApply(t, s, lww, b.put("c", "k3", `{}`, 3, 0))
		last, err = s.LastSeq(t.Context())
		require.NoError(t, err)
		require.Equal(t, res.Applied[0].Seq, last)
		// Re-delivery gives no Seq.
		mustApply(t, s, lww, res.Applied[0])
		again, err := s.LastSeq(t.Context())
		require.NoError(t, err)
		require.Equal(t, last, again)
	}},
}
