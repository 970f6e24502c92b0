package porttest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// ExpiryClock is implemented by a store whose notion of "now" (which
// documents have expired) a test can set. The expiry cases need it and are
// skipped for a store without it.
type ExpiryClock interface {
	SetClock(now func() time.Time)
}

// testClock is a settable clock starting at baseWall + 1s.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

// expiring opens a store driven by a test clock, or skips.
func expiring(t *testing.T, open OpenStore) (ports.Store, *testClock) {
	t.Helper()
	s := open(t)
	ec, ok := s.(ExpiryClock)
	if !ok {
		t.Skip("store has no settable expiry clock (porttest.ExpiryClock)")
	}
	c := &testClock{}
	c.ms.Store(baseWall + 1_000)
	ec.SetClock(c.now)
	return s, c
}

func putExpiring(coll, key, data string, stamp domain.Timestamp, expiresAt int64) ports.Write {
	w := putW(coll, key, data, stamp)
	w.Entry.ExpiresAt = expiresAt
	return w
}

// Decisions fixed here: an expired document reads as absent everywhere at
// once (Get, Find, Count, Collections, conditional writes); the oplog keeps
// the expiry exactly (the author's proof covers it); the instant of expiry
// counts as expired.
var expiryCases = []storeCase{
	{"ExpiredDocumentIsHiddenAtOnce", func(t *testing.T, open OpenStore) {
		s, c := expiring(t, open)
		exp := baseWall + 60_000
		mustCommit(t, s, lww, putExpiring("sess", "a", `{"n":1}`, ts(1, 0, "A"), exp), putW("sess", "b", `{"n":2}`, ts(2, 0, "A")))
		d, err := s.Get(t.Context(), "sess", "a")
		require.NoError(t, err)
		require.Equal(t, exp, d.ExpiresAt)
		n, err := s.Count(t.Context(), "sess", nil)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		c.ms.Store(exp)
		requireNotFound(t, s, "sess", "a")
		docs, err := s.Find(t.Context(), "sess", domain.Query{})
		require.NoError(t, err)
		require.Equal(t, []string{"b"}, docKeys(docs))
		n, err = s.Count(t.Context(), "sess", domain.Cmp{Op: domain.OpGte, Path: "n", Value: 1})
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}},
	{"CollectionOfOnlyExpiredDocumentsIsNotListed", func(t *testing.T, open OpenStore) {
		s, c := expiring(t, open)
		mustCommit(t, s, lww, putExpiring("cache", "x", `{}`, ts(1, 0, "A"), baseWall+5_000), putW("keep", "y", `{}`, ts(2, 0, "A")))
		cols, err := s.Collections(t.Context())
		require.NoError(t, err)
		require.Equal(t, []string{"cache", "keep"}, cols)
		c.ms.Store(baseWall + 5_001)
		cols, err = s.Collections(t.Context())
		require.NoError(t, err)
		require.Equal(t, []string{"keep"}, cols)
	}},
	{"ExpiredDocumentIsNotLiveForConditionalWrites", func(t *testing.T, open OpenStore) {
		s, c := expiring(t, open)
		mustCommit(t, s, lww, putExpiring("sess", "a", `{}`, ts(1, 0, "A"), baseWall+5_000))
		_, err := s.Commit(t.Context(), lww, ifVersion(putW("sess", "a", `{}`, ts(2, 0, "A")), domain.Timestamp{}))
		requireCode(t, err, domain.CodeConflict)
		c.ms.Store(baseWall + 5_000)
		_, err = s.Commit(t.Context(), lww, delW("sess", "a", ts(3, 0, "A")))
		requireCode(t, err, domain.CodeNotFound)
		mustCommit(t, s, lww, ifVersion(putW("sess", "a", `{"again":true}`, ts(4, 0, "A")), domain.Timestamp{}))
		requireDoc(t, s, "sess", "a", `{"again":true}`, ts(4, 0, "A"))
	}},
	{"OplogAndRemoteEntriesKeepTheExpiry", func(t *testing.T, open OpenStore) {
		s, _ := expiring(t, open)
		exp := baseWall + 90_000
		local := mustCommit(t, s, lww, putExpiring("sess", "a", `{}`, ts(1, 0, "A"), exp))
		require.Equal(t, exp, local[0].ExpiresAt)
		b := newAuthor("B")
		e := b.put("sess", "b", `{}`, 2, 0)
		e.ExpiresAt = exp + 1
		e.Seal("")
		res := mustApply(t, s, lww, e)
		require.Len(t, res.Changed, 1)
		require.Equal(t, exp+1, res.Changed[0].ExpiresAt)
		got, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, exp, got[0].ExpiresAt)
		require.Equal(t, exp+1, got[1].ExpiresAt)
	}},
	{"AnOlderVersionWithoutExpiryDoesNotResurrect", func(t *testing.T, open OpenStore) {
		s, c := expiring(t, open)
		b := newAuthor("B")
		old := b.put("sess", "a", `{"old":true}`, 1, 0)
		e := b.put("sess", "a", `{"new":true}`, 2, 0)
		e.ExpiresAt = baseWall + 5_000
		e.Seal(old.Hash)
		mustApply(t, s, lww, e)
		c.ms.Store(baseWall + 6_000)
		mustApply(t, s, lww, old)
		requireNotFound(t, s, "sess", "a")
	}},
	{"SnapshotCarriesTheExpiry", func(t *testing.T, open OpenStore) {
		s, c := expiring(t, open)
		if _, ok := s.(ports.Snapshotter); !ok {
			t.Skip("not a ports.Snapshotter")
		}
		exp := baseWall + 60_000
		mustCommit(t, s, lww, putExpiring("sess", "a", `{}`, ts(1, 0, "A"), exp))
		snap, err := s.(ports.Snapshotter).Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Documents, 1)
		require.Equal(t, exp, snap.Documents[0].ExpiresAt)

		dst, dc := expiring(t, open)
		_, err = dst.(ports.Snapshotter).ApplySnapshot(t.Context(), lww, snap)
		require.NoError(t, err)
		d, err := dst.Get(t.Context(), "sess", "a")
		require.NoError(t, err)
		require.Equal(t, exp, d.ExpiresAt)
		dc.ms.Store(exp)
		c.ms.Store(exp)
		requireNotFound(t, dst, "sess", "a")
		requireNotFound(t, s, "sess", "a")
	}},
}

// expiryCollectCase: maintenance collects an expired document like a
// delete. Its content and versions go, its row stays as a marker that
// refuses an older version a returning peer still holds; a newer write wins.
var expiryCollectCase = storeCase{"CompactCollectsExpiredDocumentToAMarker", func(t *testing.T, open OpenStore) {
	s, c := expiring(t, open)
	comp, ok := s.(ports.Compactor)
	if !ok {
		t.Skip("not a ports.Compactor")
	}
	b := newAuthor("B")
	v1 := b.put("sess", "a", `{"v":1}`, 1, 0)
	v2 := b.put("sess", "a", `{"v":2}`, 2, 0)
	v2.ExpiresAt = baseWall + 5_000
	v2.Seal(v1.Hash)
	b.prev = v2.Hash
	other := b.put("other", "x", `{}`, 3, 0) // B's head: heads always stay
	mustApply(t, s, lww, v1, v2, other)

	policy := domain.CompactionPolicy{HeldByAll: domain.VectorClock{"B": other.Stamp}, Now: baseWall + 4_000, TombstoneRetention: time.Second}
	res, err := comp.Compact(t.Context(), policy)
	require.NoError(t, err)
	require.Equal(t, 1, res.EntriesRemoved, "before expiry only the superseded version goes")

	c.ms.Store(baseWall + 7_000)
	policy.Now = baseWall + 7_000
	res, err = comp.Compact(t.Context(), policy)
	require.NoError(t, err)
	require.Equal(t, 1, res.EntriesRemoved)
	require.Equal(t, 1, res.TombstonesRemoved)
	entries, err := s.EntriesSinceSeq(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Equal(t, stamps([]domain.Entry{other}), stamps(entries))
	requireNotFound(t, s, "sess", "a")

	if sn, ok := s.(ports.Snapshotter); ok {
		snap, err := sn.Snapshot(t.Context())
		require.NoError(t, err)
		for _, d := range snap.Documents {
			if d.Key == "a" {
				require.True(t, d.Deleted, "the row is a marker")
				require.Empty(t, d.Data, "the content is gone")
				require.Equal(t, v2.Stamp, d.Stamp)
			}
		}
	}

	// A returning peer's older version without expiry does not resurrect it.
	r := newAuthor("R")
	old := r.put("sess", "a", `{"old":true}`, 1, 5)
	mustApply(t, s, lww, old)
	requireNotFound(t, s, "sess", "a")
	// A newer write wins as usual.
	newer := r.put("sess", "a", `{"new":true}`, 10, 0)
	mustApply(t, s, lww, newer)
	requireDoc(t, s, "sess", "a", `{"new":true}`, newer.Stamp)
}}

func init() { expiryCases = append(expiryCases, expiryCollectCase) }
