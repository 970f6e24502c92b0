package porttest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

var commitCases = []storeCase{
	{"SealsAndStores", func(t *testing.T, open OpenStore) {
		s := open(t)
		stamp := ts(0, 0, "A")
		// Whitespace and key order must survive: data is stored as written.
		data := `{ "b": 1,  "a": [1, 2] }`
		out := mustCommit(t, s, lww, putW("users", "u1", data, stamp))
		e := out[0]
		require.Positive(t, e.Seq)
		require.Equal(t, "", e.PrevHash, "first entry of an author links to the empty hash")
		require.Equal(t, domain.ComputeHash("users", "u1", domain.OpPut, stamp, ""), e.Hash)
		require.Equal(t, data, string(e.Data))
		require.Equal(t, stamp, e.Stamp)
		requireDoc(t, s, "users", "u1", data, stamp)

		vc, err := s.VectorClock(t.Context())
		require.NoError(t, err)
		require.Equal(t, domain.VectorClock{"A": stamp}, vc)
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[string]string{"A": e.Hash}, heads)
	}},
	{"HashChainPerAuthor", func(t *testing.T, open OpenStore) {
		s := open(t)
		a1 := mustCommit(t, s, lww, putW("c", "k1", `{"n":1}`, ts(1, 0, "A")))
		b1 := mustCommit(t, s, lww, putW("c", "k2", `{"n":2}`, ts(2, 0, "B")))
		// Two writes of one author in one Commit chain one after the other.
		a23 := mustCommit(t, s, lww,
			putW("c", "k3", `{"n":3}`, ts(3, 0, "A")),
			putW("d", "k1", `{"n":4}`, ts(3, 1, "A")))
		a4 := mustCommit(t, s, lww, delW("c", "k1", ts(4, 0, "A")))
		b2 := mustCommit(t, s, lww, putW("c", "k2", `{"n":5}`, ts(5, 0, "B")))

		require.Equal(t, a1[0].Hash, a23[0].PrevHash)
		require.Equal(t, a23[0].Hash, a23[1].PrevHash)
		require.Equal(t, a23[1].Hash, a4[0].PrevHash)
		require.Equal(t, b1[0].Hash, b2[0].PrevHash)

		for _, node := range []string{"A", "B"} {
			es, err := s.AuthorEntriesAfter(t.Context(), node, domain.Timestamp{}, 0)
			require.NoError(t, err)
			require.Equal(t, -1, domain.VerifyChain("", es), "chain of %s: %v", node, stamps(es))
		}
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[string]string{"A": a4[0].Hash, "B": b2[0].Hash}, heads)
		vc, err := s.VectorClock(t.Context())
		require.NoError(t, err)
		require.Equal(t, domain.VectorClock{"A": ts(4, 0, "A"), "B": ts(5, 0, "B")}, vc)
	}},
	{"SeqIncreasing", func(t *testing.T, open OpenStore) {
		s := open(t)
		b := newAuthor("B")
		var seqs []int64
		for _, e := range mustCommit(t, s, lww, putW("c", "k1", `{}`, ts(1, 0, "A")), putW("c", "k2", `{}`, ts(1, 1, "A"))) {
			seqs = append(seqs, e.Seq)
		}
		// Seq is the local commit order, shared by remote applies.
		for _, e := range mustApply(t, s, lww, b.put("c", "k3", `{}`, 0, 0), b.put("c", "k4", `{}`, 0, 1)).Applied {
			seqs = append(seqs, e.Seq)
		}
		for _, e := range mustCommit(t, s, lww, putW("c", "k5", `{}`, ts(2, 0, "A"))) {
			seqs = append(seqs, e.Seq)
		}
		require.Len(t, seqs, 5)
		for i := 1; i < len(seqs); i++ {
			require.Greater(t, seqs[i], seqs[i-1], "seqs %v", seqs)
		}
		require.Positive(t, seqs[0])
	}},
	{"AtomicBatchConflict", func(t *testing.T, open OpenStore) {
		s := open(t)
		// The second write is conditional on a version that does not exist:
		// the whole batch fails and nothing, not even the first write, is
		// stored.
		_, err := s.Commit(t.Context(), lww,
			putW("c", "k1", `{"n":1}`, ts(1, 0, "A")),
			ifVersion(putW("c", "k2", `{"n":2}`, ts(1, 1, "A")), ts(0, 0, "A")))
		requireCode(t, err, domain.CodeConflict)
		require.ErrorIs(t, err, domain.ErrConflict)
		requireNotFound(t, s, "c", "k1")
		requireNotFound(t, s, "c", "k2")
		requireEmptyStore(t, s)

		// The chain was not advanced by the failed batch.
		out := mustCommit(t, s, lww, putW("c", "k1", `{"n":1}`, ts(2, 0, "A")))
		require.Equal(t, "", out[0].PrevHash)
	}},
	{"AtomicBatchMustExist", func(t *testing.T, open OpenStore) {
		s := open(t)
		before := mustCommit(t, s, lww, putW("c", "k0", `{"n":0}`, ts(0, 0, "A")))
		_, err := s.Commit(t.Context(), lww,
			putW("c", "k0", `{"n":1}`, ts(1, 0, "A")),
			delW("c", "missing", ts(1, 1, "A")))
		requireCode(t, err, domain.CodeNotFound)
		requireDoc(t, s, "c", "k0", `{"n":0}`, ts(0, 0, "A"))
		feed, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Len(t, feed, 1)
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, before[0].Hash, heads["A"])
		vc, err := s.VectorClock(t.Context())
		require.NoError(t, err)
		require.Equal(t, ts(0, 0, "A"), vc["A"])
	}},
	{"IfVersion", func(t *testing.T, open OpenStore) {
		s := open(t)
		v1 := ts(1, 0, "A")
		mustCommit(t, s, lww, putW("c", "k", `{"n":1}`, v1))
		v2 := ts(2, 0, "A")
		mustCommit(t, s, lww, ifVersion(putW("c", "k", `{"n":2}`, v2), v1))
		requireDoc(t, s, "c", "k", `{"n":2}`, v2)

		// A stale version conflicts and changes nothing.
		_, err := s.Commit(t.Context(), lww, ifVersion(putW("c", "k", `{"n":3}`, ts(3, 0, "A")), v1))
		requireCode(t, err, domain.CodeConflict)
		requireDoc(t, s, "c", "k", `{"n":2}`, v2)

		// The version is the full stamp: same wall and logical, other node
		// is a different version.
		_, err = s.Commit(t.Context(), lww, ifVersion(putW("c", "k", `{"n":3}`, ts(3, 0, "A")), ts(2, 0, "B")))
		requireCode(t, err, domain.CodeConflict)

		// A non-zero version on a key without a live document conflicts.
		_, err = s.Commit(t.Context(), lww, ifVersion(putW("c", "nokey", `{}`, ts(3, 0, "A")), v1))
		requireCode(t, err, domain.CodeConflict)

		// A delete can be conditional too.
		mustCommit(t, s, lww, ifVersion(delW("c", "k", ts(4, 0, "A")), v2))
		requireNotFound(t, s, "c", "k")
		// On a tombstone, a non-zero version (even the tombstone's) conflicts:
		// there is no live document to match.
		_, err = s.Commit(t.Context(), lww, ifVersion(putW("c", "k", `{}`, ts(5, 0, "A")), ts(4, 0, "A")))
		requireCode(t, err, domain.CodeConflict)
		feed, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Len(t, feed, 3, "only the successful writes are in the oplog")
	}},
	{"IfVersionZero", func(t *testing.T, open OpenStore) {
		s := open(t)
		zero := domain.Timestamp{}
		// Zero: "only if the key has no live document".
		mustCommit(t, s, lww, ifVersion(putW("c", "k", `{"n":1}`, ts(1, 0, "A")), zero))
		requireDoc(t, s, "c", "k", `{"n":1}`, ts(1, 0, "A"))
		_, err := s.Commit(t.Context(), lww, ifVersion(putW("c", "k", `{"n":2}`, ts(2, 0, "A")), zero))
		requireCode(t, err, domain.CodeConflict)
		requireDoc(t, s, "c", "k", `{"n":1}`, ts(1, 0, "A"))
		// A tombstone is not a live document: create-only succeeds over it.
		mustCommit(t, s, lww, delW("c", "k", ts(3, 0, "A")))
		mustCommit(t, s, lww, ifVersion(putW("c", "k", `{"n":4}`, ts(4, 0, "A")), zero))
		requireDoc(t, s, "c", "k", `{"n":4}`, ts(4, 0, "A"))
	}},
	{"MustExist", func(t *testing.T, open OpenStore) {
		s := open(t)
		_, err := s.Commit(t.Context(), lww, delW("c", "k", ts(1, 0, "A")))
		requireCode(t, err, domain.CodeNotFound)
		require.ErrorIs(t, err, domain.ErrNotFound)
		requireEmptyStore(t, s)

		mustCommit(t, s, lww, putW("c", "k", `{}`, ts(2, 0, "A")))
		out := mustCommit(t, s, lww, delW("c", "k", ts(3, 0, "A")))
		require.Equal(t, domain.OpDelete, out[0].Op)
		require.Empty(t, out[0].Data)
		requireNotFound(t, s, "c", "k")
		// Deleting a tombstone: no live document, NOT_FOUND.
		_, err = s.Commit(t.Context(), lww, delW("c", "k", ts(4, 0, "A")))
		requireCode(t, err, domain.CodeNotFound)
		// Without MustExist a delete of a missing key is a plain tombstone.
		w := delW("c", "other", ts(5, 0, "A"))
		w.MustExist = false
		mustCommit(t, s, lww, w)
		requireNotFound(t, s, "c", "other")
	}},
	{"SameKeyTwiceInOneBatch", func(t *testing.T, open OpenStore) {
		// Decision: writes of one batch apply in order, and each write's
		// conditions see the writes before it in the same batch.
		s := open(t)
		v1 := ts(1, 0, "A")
		mustCommit(t, s, lww,
			ifVersion(putW("c", "k", `{"n":1}`, v1), domain.Timestamp{}),
			ifVersion(putW("c", "k", `{"n":2}`, ts(1, 1, "A")), v1))
		requireDoc(t, s, "c", "k", `{"n":2}`, ts(1, 1, "A"))
		mustCommit(t, s, lww,
			delW("c", "k", ts(2, 0, "A")),
			ifVersion(putW("c", "k", `{"n":3}`, ts(2, 1, "A")), domain.Timestamp{}))
		requireDoc(t, s, "c", "k", `{"n":3}`, ts(2, 1, "A"))
		_, err := s.Commit(t.Context(), lww,
			delW("c", "k", ts(3, 0, "A")),
			delW("c", "k", ts(3, 1, "A")))
		requireCode(t, err, domain.CodeNotFound)
		requireDoc(t, s, "c", "k", `{"n":3}`, ts(2, 1, "A"))
	}},
	{"EmptyBatch", func(t *testing.T, open OpenStore) {
		s := open(t)
		out, err := s.Commit(t.Context(), lww)
		require.NoError(t, err)
		require.Empty(t, out)
		requireEmptyStore(t, s)
	}},
	{"CanceledContext", func(t *testing.T, open OpenStore) {
		s := open(t)
		_, err := s.Commit(ctxCanceled(t), lww, putW("c", "k", `{}`, ts(1, 0, "A")))
		require.Error(t, err)
		requireEmptyStore(t, s)
	}},
	{"CallerBuffersNotRetained", func(t *testing.T, open OpenStore) {
		// The store keeps its own copy of data: callers may reuse buffers.
		s := open(t)
		w := putW("c", "k", `{"n":1}`, ts(1, 0, "A"))
		out := mustCommit(t, s, lww, w)
		w.Entry.Data[5] = '9'
		out[0].Data[5] = '8'
		d, err := s.Get(t.Context(), "c", "k")
		require.NoError(t, err)
		d.Data[5] = '7'
		requireDoc(t, s, "c", "k", `{"n":1}`, ts(1, 0, "A"))
		// Maps handed out are copies too.
		vc, err := s.VectorClock(t.Context())
		require.NoError(t, err)
		vc["A"] = ts(99, 0, "A")
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		heads["A"] = "x"
		vc, err = s.VectorClock(t.Context())
		require.NoError(t, err)
		require.Equal(t, ts(1, 0, "A"), vc["A"])
		heads, err = s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, out[0].Hash, heads["A"])
	}},
	{"ResolvedWithResolver", func(t *testing.T, open OpenStore) {
		// Commit resolves the document with the given resolver.
		s := open(t)
		mustCommit(t, s, logResolver{}, putW("c", "k", `{"v":"a"}`, ts(1, 0, "A")))
		mustCommit(t, s, logResolver{}, putW("c", "k", `{"v":"b"}`, ts(2, 0, "A")))
		requireDoc(t, s, "c", "k", `{"log":["a","b"]}`, ts(2, 0, "A"))
	}},
	{"ChainsAfterRemoteEntriesOfSameAuthor", func(t *testing.T, open OpenStore) {
		// A node whose own entries came back from a peer (say after losing
		// its disk) continues its chain from the newest one held.
		s := open(t)
		a := newAuthor("A")
		e1, e2 := a.put("c", "k1", `{}`, 1, 0), a.put("c", "k2", `{}`, 2, 0)
		mustApply(t, s, lww, e1, e2)
		out := mustCommit(t, s, lww, putW("c", "k3", `{}`, ts(3, 0, "A")))
		require.Equal(t, e2.Hash, out[0].PrevHash)
		es, err := s.AuthorEntriesAfter(t.Context(), "A", domain.Timestamp{}, 0)
		require.NoError(t, err)
		require.Equal(t, -1, domain.VerifyChain("", es))
	}},
}
