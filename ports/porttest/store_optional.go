package porttest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var concurrencyCases = []storeCase{
	{"WritersAndReaders", func(t *testing.T, open OpenStore) {
		// Concurrent commits, remote applies and reads: every write lands,
		// Seq stays unique and every author's chain stays intact.
		s := open(t)
		const writers, perWriter = 4, 25
		var wg sync.WaitGroup
		errs := make(chan error, 2*writers+2)
		for w := range writers {
			wg.Go(func() {
				node := fmt.Sprintf("L%d", w)
				for i := range perWriter {
					_, err := s.Commit(t.Context(), lww, putW("c", fmt.Sprintf("%s-%d", node, i%5), `{"w":1}`, ts(int64(i), 0, node)))
					if err != nil {
						errs <- fmt.Errorf("commit %s %d: %w", node, i, err)
						return
					}
				}
			})
			wg.Go(func() {
				a := newAuthor(fmt.Sprintf("R%d", w))
				for i := range perWriter {
					// Remote authors write the same keys as each other.
					if _, err := s.ApplyRemote(t.Context(), lww, []domain.Entry{a.put("c", fmt.Sprintf("shared-%d", i%5), `{"r":1}`, int64(i), int32(w))}); err != nil {
						errs <- fmt.Errorf("apply %s %d: %w", a.node, i, err)
						return
					}
				}
			})
		}
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.Find(t.Context(), "c", domain.Query{Take: 10}); err != nil {
						errs <- err
						return
					}
					if _, err := s.EntriesAfter(t.Context(), domain.Timestamp{}, nil, 50, 0); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}

		feed, err := s.EntriesSinceSeq(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Len(t, feed, 2*writers*perWriter)
		for i := 1; i < len(feed); i++ {
			require.Greater(t, feed[i].Seq, feed[i-1].Seq)
		}
		heads, err := s.Heads(t.Context())
		require.NoError(t, err)
		require.Len(t, heads, 2*writers)
		for node := range heads {
			es, err := s.AuthorEntriesAfter(t.Context(), node, domain.Timestamp{}, 0)
			require.NoError(t, err)
			require.Len(t, es, perWriter)
			require.Equal(t, -1, domain.VerifyChain("", es), node)
			require.Equal(t, es[len(es)-1].Hash, heads[node])
		}
		// shared-k: the newest remote write wins: wall 20+k, logical writers-1.
		for k := range 5 {
			requireDoc(t, s, "c", fmt.Sprintf("shared-%d", k), `{"r":1}`, ts(int64(20+k), writers-1, fmt.Sprintf("R%d", writers-1)))
		}
	}},
}

// prunedFixture stores two authors' chains: A at walls 100, 200, 300 and B
// at 150, 400 (offsets from baseWall).
func prunedFixture(t *testing.T, s ports.Store) (a, b []domain.Entry) {
	ta, tb := newAuthor("A"), newAuthor("B")
	a = []domain.Entry{ta.put("c", "a1", `{"n":1}`, 100, 0), ta.put("c", "a2", `{"n":2}`, 200, 0), ta.put("c", "a3", `{"n":3}`, 300, 0)}
	b = []domain.Entry{tb.put("c", "b1", `{"n":1}`, 150, 0), tb.put("c", "b2", `{"n":2}`, 400, 0)}
	mustApply(t, s, lww, a[0], b[0], a[1], a[2], b[1])
	return a, b
}

var prunerCases = []storeCase{
	{"PruneKeepsBoundaries", func(t *testing.T, open OpenStore) {
		s := open(t)
		p, ok := s.(ports.Pruner)
		if !ok {
			t.Skip("store does not implement ports.Pruner")
		}
		a, b := prunedFixture(t, s)
		ctx := t.Context()
		headsBefore, err := s.Heads(ctx)
		require.NoError(t, err)
		vcBefore, err := s.VectorClock(ctx)
		require.NoError(t, err)
		newestBefore, err := s.NewestStamp(ctx)
		require.NoError(t, err)

		n, err := p.Prune(ctx, baseWall+250)
		require.NoError(t, err)
		require.Equal(t, 3, n, "entries with wall before the horizon are dropped")
		n, err = p.Prune(ctx, baseWall+250)
		require.NoError(t, err)
		require.Zero(t, n)

		sameEntries(t, []domain.Entry{a[2], b[1]}, entriesAfter(t, s, domain.Timestamp{}, nil, 0, 0))
		heads, err := s.Heads(ctx)
		require.NoError(t, err)
		require.Equal(t, headsBefore, heads)
		vc, err := s.VectorClock(ctx)
		require.NoError(t, err)
		require.Equal(t, vcBefore, vc)
		newest, err := s.NewestStamp(ctx)
		require.NoError(t, err)
		require.Equal(t, newestBefore, newest)
		// Documents are not history: all still readable.
		for _, e := range append(a, b...) {
			requireDoc(t, s, "c", e.Key, string(e.Data), e.Stamp)
		}

		// The boundary (the newest pruned hash, the PrevHash of the oldest
		// kept entry) still starts a range; anything older is gone.
		got, err := s.ChainRange(ctx, a[1].Hash, a[2].Hash)
		require.NoError(t, err)
		sameEntries(t, a[2:], got)
		got, err = s.ChainRange(ctx, b[0].Hash, b[1].Hash)
		require.NoError(t, err)
		sameEntries(t, b[1:], got)
		for _, start := range []string{"", a[0].Hash} {
			_, err = s.ChainRange(ctx, start, a[2].Hash)
			require.ErrorIs(t, err, ports.ErrHistoryPruned, "start %q", start)
			require.Equal(t, domain.CodeSync, domain.CodeOf(err))
		}
		// A pruned end is no longer held.
		_, err = s.ChainRange(ctx, "", a[1].Hash)
		require.Error(t, err)

		// Local commits keep chaining from the head.
		out := mustCommit(t, s, lww, putW("c", "a4", `{}`, ts(500, 0, "A")))
		require.Equal(t, a[2].Hash, out[0].PrevHash)
		// Pruning everything older than every entry keeps the newest
		// stamp held (a v4 peer asking our clock must not be told zero).
		want, err := s.NewestStamp(ctx)
		require.NoError(t, err)
		wantSeq, err := s.LastSeq(ctx)
		require.NoError(t, err)
		_, err = p.Prune(ctx, baseWall+1_000_000)
		require.NoError(t, err)
		newest, err = s.NewestStamp(ctx)
		require.NoError(t, err)
		require.Equal(t, want, newest)
		lastSeq, err := s.LastSeq(ctx)
		require.NoError(t, err)
		require.Equal(t, wantSeq, lastSeq, "the change feed's end survives Prune")
	}},
}

var snapshotCases = []storeCase{
	{"RoundTrip", func(t *testing.T, open OpenStore) {
		src := open(t)
		sn, ok := src.(ports.Snapshotter)
		if !ok {
			t.Skip("store does not implement ports.Snapshotter")
		}
		ctx := t.Context()
		b := newAuthor("B")
		local := mustCommit(t, src, lww, putW("users", "u1", `{"name": "ann"}`, ts(1, 0, "A")), putW("items", "i1", `{"x":1}`, ts(2, 0, "A")))
		mustApply(t, src, lww, b.put("users", "u2", `{"name":"bob"}`, 3, 0), b.put("users", "u3", `{}`, 4, 0), b.del("users", "u3", 5, 0))

		snap, err := sn.Snapshot(ctx)
		require.NoError(t, err)
		require.Len(t, snap.Documents, 4, "tombstones included")
		for _, d := range snap.Documents {
			if d.Key == "u3" {
				require.True(t, d.Deleted)
				require.Equal(t, ts(5, 0, "B"), d.Stamp)
			}
		}
		// A snapshot travels as JSON (PROTOCOL.md: SnapshotChunk).
		raw, err := json.Marshal(snap)
		require.NoError(t, err)
		var wire domain.Snapshot
		require.NoError(t, json.Unmarshal(raw, &wire))

		dst := open(t)
		res, err := dst.(ports.Snapshotter).ApplySnapshot(ctx, lww, wire)
		require.NoError(t, err)
		require.Len(t, res.Changed, 4)
		require.Empty(t, res.Applied, "a snapshot carries no oplog entries")
		requireDoc(t, dst, "users", "u1", `{"name": "ann"}`, ts(1, 0, "A"))
		requireDoc(t, dst, "items", "i1", `{"x":1}`, ts(2, 0, "A"))
		requireDoc(t, dst, "users", "u2", `{"name":"bob"}`, ts(3, 0, "B"))
		requireNotFound(t, dst, "users", "u3")
		for _, pair := range [][2]ports.Store{{src, dst}} {
			h1, err := pair[0].Heads(ctx)
			require.NoError(t, err)
			h2, err := pair[1].Heads(ctx)
			require.NoError(t, err)
			require.Equal(t, h1, h2)
			v1, err := pair[0].VectorClock(ctx)
			require.NoError(t, err)
			v2, err := pair[1].VectorClock(ctx)
			require.NoError(t, err)
			require.Equal(t, v1, v2)
			c1, err := pair[0].Collections(ctx)
			require.NoError(t, err)
			c2, err := pair[1].Collections(ctx)
			require.NoError(t, err)
			require.Equal(t, c1, c2)
		}

		// Again: nothing changes.
		res, err = dst.(ports.Snapshotter).ApplySnapshot(ctx, lww, wire)
		require.NoError(t, err)
		require.Empty(t, res.Changed)

		// Chains continue from the snapshot's heads.
		out := mustCommit(t, dst, lww, putW("users", "u4", `{}`, ts(6, 0, "A")))
		require.Equal(t, local[1].Hash, out[0].PrevHash)
		next := b.put("users", "u5", `{}`, 7, 0)
		res = mustApply(t, dst, lww, next)
		require.Len(t, res.Applied, 1)
		heads, err := dst.Heads(ctx)
		require.NoError(t, err)
		require.Equal(t, next.Hash, heads["B"])
	}},
	{"MergesWithLocalState", func(t *testing.T, open OpenStore) {
		src := open(t)
		if _, ok := src.(ports.Snapshotter); !ok {
			t.Skip("store does not implement ports.Snapshotter")
		}
		ctx := t.Context()
		b, c := newAuthor("B"), newAuthor("C")
		mustApply(t, src, lww, b.put("c", "k1", `{"v":"old"}`, 1, 0), b.put("c", "k2", `{"v":"snap"}`, 5, 0))
		snap, err := src.(ports.Snapshotter).Snapshot(ctx)
		require.NoError(t, err)

		dst := open(t)
		c1, c2 := c.put("c", "k1", `{"v":"local"}`, 3, 0), c.put("c", "k2", `{"v":"older"}`, 4, 0)
		mustApply(t, dst, lww, c1, c2)
		res, err := dst.(ports.Snapshotter).ApplySnapshot(ctx, lww, snap)
		require.NoError(t, err)
		// The snapshot's documents compete like remote writes.
		requireDoc(t, dst, "c", "k1", `{"v":"local"}`, c1.Stamp)
		requireDoc(t, dst, "c", "k2", `{"v":"snap"}`, ts(5, 0, "B"))
		require.Len(t, res.Changed, 1)
		require.Equal(t, "k2", res.Changed[0].Key)
		vc, err := dst.VectorClock(ctx)
		require.NoError(t, err)
		require.Equal(t, domain.VectorClock{"B": ts(5, 0, "B"), "C": c2.Stamp}, vc)
		heads, err := dst.Heads(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"B": b.prev, "C": c2.Hash}, heads)
	}},
}
