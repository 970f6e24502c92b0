package porttest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var applyCases = []storeCase{
	{"StoresEntriesAsSent", func(t *testing.T, open OpenStore) {
		s := open(t)
		b, c := newAuthor("B"), newAuthor("C")
		in := []domain.Entry{
			b.put("users", "u1", `{"name": "ann"}`, 1, 0),
			c.put("users", "u2", `{"name":"bob"}`, 2, 0),
			b.put("items", "i1", `{"x":1}`, 3, 0),
		}
		res := mustApply(t, s, lww, in...)
		require.Zero(t, res.Skipped)
		// Applied: the entries newly stored, in apply order, with Seq set and
		// their hashes untouched.
		sameEntries(t, in, res.Applied)
		for i := range res.Applied {
			require.Positive(t, res.Applied[i].Seq)
			if i > 0 {
				require.Greater(t, res.Applied[i].Seq, res.Applied[i-1].Seq)
			}
		}
		require.Len(t, res.Changed, 3)
		changed := lastChanged(res)
		for _, e := range in {
			d, ok := changed[e.Collection+"/"+e.Key]
			require.True(t, ok, "%s/%s reported changed", e.Collection, e.Key)
			require.True(t, sameDoc(domain.DocumentFromEntry(&e), d), "changed doc %+v", d)
			requireDoc(t, s, e.Collection, e.Key, string(e.Data), e.Stamp)
		}
		feed, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		sameEntries(t, in, feed)
	}},
	{"IdempotentRedelivery", func(t *testing.T, open OpenStore) {
		s := open(t)
		b := newAuthor("B")
		in := []domain.Entry{b.put("c", "k1", `{"n":1}`, 1, 0), b.put("c", "k2", `{"n":2}`, 2, 0), b.del("c", "k1", 3, 0)}
		mustApply(t, s, lww, in...)
		res := mustApply(t, s, lww, in...)
		require.Empty(t, res.Applied)
		require.Empty(t, res.Changed)
		require.Equal(t, 3, res.Skipped)
		feed, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Len(t, feed, 3)

		// A duplicate inside one batch is skipped too; a new entry beside it
		// is applied.
		e4 := b.put("c", "k3", `{"n":3}`, 4, 0)
		res = mustApply(t, s, lww, in[1], e4, e4)
		require.Equal(t, 2, res.Skipped)
		sameEntries(t, []domain.Entry{e4}, res.Applied)
		require.Len(t, res.Changed, 1)
	}},
	{"SkipsLocallyCommittedEntries", func(t *testing.T, open OpenStore) {
		// Our own entries echoed back by a peer are already held.
		s := open(t)
		out := mustCommit(t, s, lww, putW("c", "k", `{}`, ts(1, 0, "A")))
		res := mustApply(t, s, lww, out[0])
		require.Equal(t, 1, res.Skipped)
		require.Empty(t, res.Applied)
		require.Empty(t, res.Changed)
	}},
	{"SameStampOtherKeyIsNotDuplicate", func(t *testing.T, open OpenStore) {
		// Identity is author + stamp + collection + key.
		s := open(t)
		b := newAuthor("B")
		e1 := b.put("c", "k1", `{}`, 1, 0)
		e2 := b.put("c", "k2", `{}`, 1, 0)
		e3 := b.put("d", "k1", `{}`, 1, 0)
		res := mustApply(t, s, lww, e1, e2, e3)
		require.Zero(t, res.Skipped)
		require.Len(t, res.Applied, 3)
	}},
	{"LastWriteWinsAnyOrder", func(t *testing.T, open OpenStore) {
		b, c, d := newAuthor("B"), newAuthor("C"), newAuthor("D")
		in := []domain.Entry{
			b.put("c", "k", `{"by":"B"}`, 5, 0),
			c.put("c", "k", `{"by":"C"}`, 5, 1), // newest: same wall, higher logical
			d.put("c", "k", `{"by":"D"}`, 4, 9),
			b.put("c", "other", `{"by":"B"}`, 6, 0),
		}
		for _, p := range permutations(len(in)) {
			t.Run(fmt.Sprint(p), func(t *testing.T) {
				s := open(t)
				var results []ports.ApplyResult
				for _, i := range p {
					results = append(results, mustApply(t, s, lww, in[i]))
				}
				requireDoc(t, s, "c", "k", `{"by":"C"}`, ts(5, 1, "C"))
				requireDoc(t, s, "c", "other", `{"by":"B"}`, ts(6, 0, "B"))
				// Every visible change was reported: the last reported
				// state of each key is its final state.
				ch := lastChanged(results...)
				require.Equal(t, `{"by":"C"}`, string(ch["c/k"].Data))
				require.Equal(t, ts(5, 1, "C"), ch["c/k"].Stamp)
			})
		}
	}},
	{"StampTieBrokenByNode", func(t *testing.T, open OpenStore) {
		s := open(t)
		b, c := newAuthor("B"), newAuthor("C")
		mustApply(t, s, lww, c.put("c", "k", `{"by":"C"}`, 1, 0))
		res := mustApply(t, s, lww, b.put("c", "k", `{"by":"B"}`, 1, 0))
		require.Len(t, res.Applied, 1, "a losing entry is still stored")
		require.Empty(t, res.Changed, "a losing entry changes nothing")
		requireDoc(t, s, "c", "k", `{"by":"C"}`, ts(1, 0, "C"))
	}},
	{"OutOfOrderDelivery", func(t *testing.T, open OpenStore) {
		s := open(t)
		b := newAuthor("B")
		e1 := b.put("c", "k", `{"n":1}`, 1, 0)
		e2 := b.put("c", "k", `{"n":2}`, 2, 0)
		e3 := b.put("c", "k2", `{"n":3}`, 3, 0)
		mustApply(t, s, lww, e3, e2)
		res := mustApply(t, s, lww, e1)
		sameEntries(t, []domain.Entry{e1}, res.Applied)
		require.Empty(t, res.Changed)
		requireDoc(t, s, "c", "k", `{"n":2}`, e2.Stamp)
		vc, err := s.VectorClock(t.Context())
		require.NoError(t, err)
		require.Equal(t, domain.VectorClock{"B": e3.Stamp}, vc)
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[string]string{"B": e3.Hash}, heads, "head is the newest entry, not the last to arrive")
		es, err := s.AuthorEntriesAfter(t.Context(), "B", domain.Timestamp{}, 0)
		require.NoError(t, err)
		require.Equal(t, -1, domain.VerifyChain("", es), "HLC order restores the chain")
	}},
	{"DeleteAndResurrection", func(t *testing.T, open OpenStore) {
		s := open(t)
		b, c := newAuthor("B"), newAuthor("C")
		mustApply(t, s, lww, b.put("c", "k", `{"n":1}`, 1, 0))
		res := mustApply(t, s, lww, c.del("c", "k", 2, 0))
		require.Len(t, res.Changed, 1)
		require.True(t, res.Changed[0].Deleted, "a tombstone is a change")
		require.Equal(t, ts(2, 0, "C"), res.Changed[0].Stamp)
		requireNotFound(t, s, "c", "k")

		// An older put loses against the tombstone.
		res = mustApply(t, s, lww, b.put("c", "k", `{"n":0}`, 1, 5))
		require.Empty(t, res.Changed)
		requireNotFound(t, s, "c", "k")

		// A newer put resurrects the document.
		res = mustApply(t, s, lww, b.put("c", "k", `{"n":3}`, 3, 0))
		require.Len(t, res.Changed, 1)
		require.False(t, res.Changed[0].Deleted)
		requireDoc(t, s, "c", "k", `{"n":3}`, ts(3, 0, "B"))
	}},
	{"DeleteArrivesFirst", func(t *testing.T, open OpenStore) {
		s := open(t)
		b, c := newAuthor("B"), newAuthor("C")
		put := b.put("c", "k", `{"n":1}`, 1, 0)
		mustApply(t, s, lww, c.del("c", "k", 2, 0))
		requireNotFound(t, s, "c", "k")
		res := mustApply(t, s, lww, put)
		require.Len(t, res.Applied, 1)
		require.Empty(t, res.Changed)
		requireNotFound(t, s, "c", "k")
		n, err := s.Count(t.Context(), "c", nil)
		require.NoError(t, err)
		require.Zero(t, n)
	}},
	{"ReplayOrderSensitiveResolver", func(t *testing.T, open OpenStore) {
		// A resolver that answers NeedsReplay makes the store replay every
		// entry it holds for the key; the result is independent of arrival
		// order and every visible change is reported.
		b, c := newAuthor("B"), newAuthor("C")
		in := []domain.Entry{
			b.put("c", "k", `{"v":"b1"}`, 1, 0),
			c.put("c", "k", `{"v":"c1"}`, 2, 0),
			b.put("c", "k", `{"v":"b2"}`, 3, 0),
			c.put("c", "k", `{"v":"c2"}`, 4, 0),
		}
		want := domain.Replay(logResolver{}, in)
		require.Equal(t, `{"log":["b1","c1","b2","c2"]}`, string(want.Data))
		for _, p := range permutations(len(in)) {
			t.Run(fmt.Sprint(p), func(t *testing.T) {
				s := open(t)
				var results []ports.ApplyResult
				for _, i := range p {
					results = append(results, mustApply(t, s, logResolver{}, in[i]))
				}
				requireDoc(t, s, "c", "k", string(want.Data), want.Stamp)
				require.True(t, sameDoc(*want, lastChanged(results...)["c/k"]), "last change reported %+v", lastChanged(results...)["c/k"])
			})
		}
	}},
	{"ReplayWithDeletes", func(t *testing.T, open OpenStore) {
		b := newAuthor("B")
		in := []domain.Entry{
			b.put("c", "k", `{"v":"1"}`, 1, 0),
			b.del("c", "k", 2, 0),
			b.put("c", "k", `{"v":"3"}`, 3, 0),
			b.put("c", "k", `{"v":"4"}`, 4, 0),
		}
		want := domain.Replay(logResolver{}, in)
		require.Equal(t, `{"log":["3","4"]}`, string(want.Data))
		for _, p := range [][]int{{3, 2, 1, 0}, {0, 3, 1, 2}, {1, 3, 0, 2}} {
			t.Run(fmt.Sprint(p), func(t *testing.T) {
				s := open(t)
				for _, i := range p {
					mustApply(t, s, logResolver{}, in[i])
				}
				requireDoc(t, s, "c", "k", string(want.Data), want.Stamp)
			})
		}
		// One batch holding everything, out of order, gives the same.
		s := open(t)
		mustApply(t, s, logResolver{}, in[2], in[0], in[3], in[1])
		requireDoc(t, s, "c", "k", string(want.Data), want.Stamp)
	}},
	{"RecursiveMergeConverges", func(t *testing.T, open OpenStore) {
		// Whatever domain.RecursiveMerge decides, the store's answer is the
		// replay of the entries it holds, in any arrival order.
		b, c := newAuthor("B"), newAuthor("C")
		in := []domain.Entry{
			b.put("c", "k", `{"name":"ann","address":{"city":"Oslo"},"tags":[{"id":1,"v":"a"}]}`, 1, 0),
			c.put("c", "k", `{"address":{"zip":"0150"},"tags":[{"id":2,"v":"b"}]}`, 2, 0),
			b.put("c", "k", `{"name":"anna","tags":[{"id":1,"v":"c"}]}`, 3, 0),
		}
		r := domain.RecursiveMerge{}
		want := domain.Replay(r, in)
		for _, p := range permutations(len(in)) {
			t.Run(fmt.Sprint(p), func(t *testing.T) {
				s := open(t)
				for _, i := range p {
					mustApply(t, s, r, in[i])
				}
				d, err := s.Get(t.Context(), "c", "k")
				require.NoError(t, err)
				require.JSONEq(t, string(want.Data), string(d.Data))
				require.Equal(t, want.Stamp, d.Stamp)
			})
		}
	}},
	{"VectorClockAndHeads", func(t *testing.T, open OpenStore) {
		s := open(t)
		b, c := newAuthor("B"), newAuthor("C")
		b1, b2 := b.put("c", "k1", `{}`, 1, 0), b.put("c", "k2", `{}`, 5, 2)
		c1 := c.put("c", "k3", `{}`, 3, 0)
		mustApply(t, s, lww, b1, c1, b2)
		local := mustCommit(t, s, lww, putW("c", "k4", `{}`, ts(4, 0, "A")))
		vc, err := s.VectorClock(t.Context())
		require.NoError(t, err)
		require.Equal(t, domain.VectorClock{"A": ts(4, 0, "A"), "B": b2.Stamp, "C": c1.Stamp}, vc)
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[string]string{"A": local[0].Hash, "B": b2.Hash, "C": c1.Hash}, heads)
	}},
	{"NonObjectJSONStoredUnchanged", func(t *testing.T, open OpenStore) {
		// Foreign nodes may send any JSON value; store and serve it as is.
		s := open(t)
		b := newAuthor("B")
		vals := map[string]string{"arr": `[1, 2,3]`, "str": `"text"`, "num": `42`, "null": `null`}
		var in []domain.Entry
		for k, v := range vals {
			in = append(in, b.put("c", k, v, int64(len(in)), 0))
		}
		mustApply(t, s, lww, in...)
		for _, e := range in {
			requireDoc(t, s, "c", e.Key, string(e.Data), e.Stamp)
		}
		docs, err := s.Find(t.Context(), "c", domain.Query{})
		require.NoError(t, err)
		require.Equal(t, []string{"arr", "null", "num", "str"}, docKeys(docs))
	}},
	{"TombstoneForUnknownKey", func(t *testing.T, open OpenStore) {
		// A delete of a key never seen still records a tombstone: it must
		// win against an older put that arrives later, and it is reported.
		s := open(t)
		b, c := newAuthor("B"), newAuthor("C")
		res := mustApply(t, s, lww, c.del("c", "k", 2, 0))
		require.Len(t, res.Changed, 1)
		require.True(t, res.Changed[0].Deleted)
		requireNotFound(t, s, "c", "k")
		colls, err := s.Collections(t.Context())
		require.NoError(t, err)
		require.Empty(t, colls)
		mustApply(t, s, lww, b.put("c", "k", `{}`, 1, 0))
		requireNotFound(t, s, "c", "k")
	}},
	{"CanceledContext", func(t *testing.T, open OpenStore) {
		s := open(t)
		b := newAuthor("B")
		_, err := s.ApplyRemote(ctxCanceled(t), lww, []domain.Entry{b.put("c", "k", `{}`, 1, 0)})
		require.Error(t, err)
		requireEmptyStore(t, s)
	}},
	{"EmptyBatch", func(t *testing.T, open OpenStore) {
		s := open(t)
		res := mustApply(t, s, lww)
		require.Empty(t, res.Applied)
		require.Empty(t, res.Changed)
		require.Zero(t, res.Skipped)
		requireEmptyStore(t, s)
	}},
	{"LargeBatch", func(t *testing.T, open OpenStore) {
		// More than one bounded transaction's worth of entries.
		s := open(t)
		b := newAuthor("B")
		in := make([]domain.Entry, 2500)
		for i := range in {
			in[i] = b.put("c", fmt.Sprintf("k%05d", i%2000), fmt.Sprintf(`{"i":%d}`, i), int64(i), 0)
		}
		res := mustApply(t, s, lww, in...)
		require.Len(t, res.Applied, len(in))
		n, err := s.Count(t.Context(), "c", nil)
		require.NoError(t, err)
		require.Equal(t, 2000, n)
		requireDoc(t, s, "c", "k00001", `{"i":2001}`, in[2001].Stamp)
		requireDoc(t, s, "c", "k01999", `{"i":1999}`, in[1999].Stamp)
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, in[len(in)-1].Hash, heads["B"])
	}},
}
