package porttest

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// compactionFixture stores author A's linked chain, in chain order:
//
//	0 put k1 @10  1 put k1 @20  2 put k2 @30  3 del k2 @40  4 put k1 @50  5 put k3 @60 (head)
//
// Entries 0-2 are superseded, 3 is a tombstone, 4 and 5 are values.
func compactionFixture(t *testing.T, s ports.Store) []domain.Entry {
	a := newAuthor("A")
	chain := []domain.Entry{
		a.put("c", "k1", `{"v":1}`, 10, 0), a.put("c", "k1", `{"v":2}`, 20, 0), a.put("c", "k2", `{"v":1}`, 30, 0),
		a.del("c", "k2", 40, 0), a.put("c", "k1", `{"v":3}`, 50, 0), a.put("c", "k3", `{"v":1}`, 60, 0),
	}
	for i, l := range domain.LinkRun(domain.GenesisLink, chain) {
		chain[i].Link = bytes.Clone(l)
	}
	mustApply(t, s, lww, chain...)
	return chain
}

func compactorOf(t *testing.T, s ports.Store) ports.Compactor {
	t.Helper()
	c, ok := s.(ports.Compactor)
	if !ok {
		t.Skip("store does not implement ports.Compactor")
	}
	return c
}

// compactPolicy: now is wall offset 1000; A is held by every peer up to
// heldUpTo (nil: by none).
func compactPolicy(heldUpTo *domain.Entry, oplog, tombstones time.Duration) domain.CompactionPolicy {
	p := domain.CompactionPolicy{HeldByAll: domain.VectorClock{}, Now: baseWall + 1000, OplogRetention: oplog, TombstoneRetention: tombstones}
	if heldUpTo != nil {
		p.HeldByAll["A"] = heldUpTo.Stamp
	}
	return p
}

func mustCompact(t *testing.T, s ports.Store, p domain.CompactionPolicy) ports.CompactionResult {
	t.Helper()
	res, err := compactorOf(t, s).Compact(t.Context(), p)
	require.NoError(t, err)
	return res
}

func feed(t *testing.T, s ports.Store) []domain.Entry {
	t.Helper()
	es, err := s.EntriesSinceSeq(t.Context(), 0, 0)
	require.NoError(t, err)
	return es
}

var compactionCases = []storeCase{
	{"SupersededAndHeldRemovedHeadsAndValuesKept", func(t *testing.T, open OpenStore) {
		s := open(t)
		chain := compactionFixture(t, s)
		headsBefore, err := s.Heads(t.Context())
		require.NoError(t, err)
		res := mustCompact(t, s, compactPolicy(&chain[5], time.Hour, time.Hour))
		require.Equal(t, 3, res.EntriesRemoved)
		require.Zero(t, res.TombstonesRemoved, "a young tombstone stays")
		require.Positive(t, res.BytesRemoved)
		sameEntries(t, chain[3:], feed(t, s))
		sameEntries(t, chain[3:], entriesAfter(t, s, domain.Timestamp{}, nil, 0, 0))
		requireDoc(t, s, "c", "k1", `{"v":3}`, chain[4].Stamp)
		requireDoc(t, s, "c", "k3", `{"v":1}`, chain[5].Stamp)
		requireNotFound(t, s, "c", "k2")
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Equal(t, headsBefore, heads)

		again := mustCompact(t, s, compactPolicy(&chain[5], time.Hour, time.Hour))
		require.Zero(t, again.EntriesRemoved, "a second pass finds nothing more")
	}},
	{"NotHeldKeptUntilRetention", func(t *testing.T, open OpenStore) {
		s := open(t)
		chain := compactionFixture(t, s)
		// Peers hold A up to entry 0: only it goes while the others are
		// within the retention.
		res := mustCompact(t, s, compactPolicy(&chain[0], time.Hour, time.Hour))
		require.Equal(t, 1, res.EntriesRemoved)
		sameEntries(t, chain[1:], feed(t, s))
		// Past the retention a peer that lacks them no longer holds them back.
		res = mustCompact(t, s, compactPolicy(nil, 975*time.Millisecond, time.Hour))
		require.Equal(t, 1, res.EntriesRemoved, "only entry 1 (wall 20) is older than the retention")
		res = mustCompact(t, s, compactPolicy(nil, 0, 0))
		require.Equal(t, 1, res.EntriesRemoved, "entry 2; a tombstone nobody holds stays, whatever its age")
		sameEntries(t, chain[3:], feed(t, s))
	}},
	{"TombstoneCollectedWhenHeldAndOld", func(t *testing.T, open OpenStore) {
		s := open(t)
		chain := compactionFixture(t, s)
		res := mustCompact(t, s, compactPolicy(&chain[2], 0, 0))
		require.Zero(t, res.TombstonesRemoved, "a peer lacks the delete")
		res = mustCompact(t, s, compactPolicy(&chain[5], 0, time.Hour))
		require.Zero(t, res.TombstonesRemoved, "held, but younger than the retention")
		res = mustCompact(t, s, compactPolicy(&chain[5], 0, 0))
		require.Equal(t, 1, res.TombstonesRemoved)
		require.Equal(t, 1, res.EntriesRemoved)
		sameEntries(t, chain[4:], feed(t, s))
		for _, e := range feed(t, s) {
			require.NotEqual(t, "k2", e.Key, "deleted content is no longer served by the change feed")
		}
		requireNotFound(t, s, "c", "k2")
		if r, ok := s.(ports.StorageReporter); ok {
			st, err := r.StorageStats(t.Context())
			require.NoError(t, err)
			require.Equal(t, int64(2), st.OplogEntries)
			require.Equal(t, int64(1), st.Tombstones, "the collected delete leaves its marker")
		}
	}},
	{"MarkerRefusesOlderVersionsNewerWriteWins", func(t *testing.T, open OpenStore) {
		s := open(t)
		chain := compactionFixture(t, s)
		mustCompact(t, s, compactPolicy(&chain[5], 0, 0))
		// A returning peer's old version of k2, from before the delete:
		// refused, the document stays deleted.
		b := newAuthor("B")
		mustApply(t, s, lww, b.put("c", "k2", `{"old":true}`, 35, 0))
		requireNotFound(t, s, "c", "k2")
		// Its write made after the delete wins as usual.
		late := b.put("c", "k2", `{"new":true}`, 45, 0)
		mustApply(t, s, lww, late)
		requireDoc(t, s, "c", "k2", `{"new":true}`, late.Stamp)
		// The refused old version is superseded by the marker: the next
		// pass takes it.
		res := mustCompact(t, s, compactPolicy(&chain[5], 0, 0))
		require.Equal(t, 1, res.EntriesRemoved)
	}},
	{"LinkOfAnswersForTheEntryBeforeARetainedOne", func(t *testing.T, open OpenStore) {
		s := open(t)
		chain := compactionFixture(t, s)
		ps := proofsOf(t, s)
		mustCompact(t, s, compactPolicy(&chain[5], time.Hour, time.Hour))
		link, err := ps.LinkOf(t.Context(), chain[2].Hash)
		require.NoError(t, err)
		require.Equal(t, chain[2].Link, link, "entry 3 stays and chains from entry 2's link")
		link, err = ps.LinkOf(t.Context(), chain[3].Hash)
		require.NoError(t, err)
		require.Equal(t, chain[3].Link, link)
		// Removing entry 3 later moves the boundary on.
		mustCompact(t, s, compactPolicy(&chain[5], 0, 0))
		link, err = ps.LinkOf(t.Context(), chain[3].Hash)
		require.NoError(t, err)
		require.Equal(t, chain[3].Link, link, "entry 4 stays and chains from entry 3's link")
	}},
	{"ChainRangeAcrossAHoleNeedsASnapshot", func(t *testing.T, open OpenStore) {
		s := open(t)
		chain := compactionFixture(t, s)
		mustCompact(t, s, compactPolicy(&chain[5], time.Hour, time.Hour))
		_, err := s.ChainRange(t.Context(), "", chain[5].Hash)
		require.ErrorIs(t, err, ports.ErrHistoryPruned)
		_, err = s.ChainRange(t.Context(), chain[1].Hash, chain[5].Hash)
		require.ErrorIs(t, err, ports.ErrHistoryPruned)
		got, err := s.ChainRange(t.Context(), chain[3].Hash, chain[5].Hash)
		require.NoError(t, err, "a range after the hole is served")
		sameEntries(t, chain[4:], got)
	}},
	{"SeqKeepsIncreasing", func(t *testing.T, open OpenStore) {
		s := open(t)
		a := newAuthor("A")
		chain := []domain.Entry{a.put("c", "k", `{"v":1}`, 10, 0), a.put("c", "k", `{"v":2}`, 20, 0), a.put("c", "j", `{"v":1}`, 30, 0)}
		// The removable entry 0 arrives last: it has the greatest seq.
		mustApply(t, s, lww, chain[1], chain[2])
		mustApply(t, s, lww, chain[0])
		last, err := s.LastSeq(t.Context())
		require.NoError(t, err)
		mustCompact(t, s, compactPolicy(&chain[2], 0, 0))
		after, err := s.LastSeq(t.Context())
		require.NoError(t, err)
		require.Equal(t, last, after, "LastSeq still counts what was removed")
		out := mustCommit(t, s, lww, putW("c", "n", `{}`, ts(40, 0, "L")))
		require.Greater(t, out[0].Seq, last)
		got, err := s.EntriesSinceSeq(t.Context(), last, 0)
		require.NoError(t, err)
		sameEntries(t, out, got)
	}},
	{"CompactedRelayProvesPagesAcrossHoles", relayProvesAcrossHoles}, // store_compactproof.go
}
