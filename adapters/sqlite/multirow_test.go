package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// TestApplyRemoteMatchesMemory is a differential test of the multi-row
// last-write-wins path: random deliveries (several authors, few keys so a
// batch holds many entries of one key, deletes, re-deliveries, shuffled
// order, calls larger than one multi-row statement and than one
// transaction) must give the same results as the memory adapter, which
// applies entries one at a time.
func TestApplyRemoteMatchesMemory(t *testing.T) {
	t.Parallel() // independent stores; the slowest tests overlap on a multi-core machine
	for _, batchSize := range []int{3, 700, 0} {
		t.Run(fmt.Sprintf("batch=%d", batchSize), func(t *testing.T) {
			ctx := t.Context()
			s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true, BatchSize: batchSize})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			m := memory.New()
			rng := rand.New(rand.NewPCG(7, uint64(batchSize)))

			// Each author's chain, in stamp order; walls interleave between
			// authors so the stamp order mixes them.
			var all []domain.Entry
			for a, node := range []string{"B", "C", "D"} {
				prev := ""
				for i := range diffApplyEntries / 3 {
					e := domain.Entry{Collection: "c", Key: fmt.Sprintf("k%d", rng.IntN(40)), Op: domain.OpPut,
						Data:  fmt.Appendf(nil, `{"a":%q,"i":%d}`, node, i),
						Stamp: domain.Timestamp{Wall: wall0 + int64(i*3+a), Logical: int32(rng.IntN(2)), Node: node}}
					if rng.IntN(6) == 0 {
						e.Op, e.Data = domain.OpDelete, nil
					}
					if rng.IntN(9) == 0 {
						e.Collection = "other"
					}
					e.Seal(prev)
					prev = e.Hash
					all = append(all, e)
				}
			}
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

			for sent := 0; sent < len(all); {
				n := 1 + rng.IntN(40)
				if rng.IntN(4) == 0 {
					n = 600 + rng.IntN(700) // more than one multi-row statement
				}
				call := append([]domain.Entry(nil), all[sent:min(sent+n, len(all))]...)
				sent += len(call)
				// Re-deliveries: entries already sent, and duplicates
				// within the call.
				for range rng.IntN(4) {
					call = append(call, all[rng.IntN(sent)])
				}
				rng.Shuffle(len(call), func(i, j int) { call[i], call[j] = call[j], call[i] })

				want, err := m.ApplyRemote(ctx, lww, call)
				require.NoError(t, err)
				got, err := s.ApplyRemote(ctx, lww, call)
				require.NoError(t, err)
				require.Equal(t, want.Skipped, got.Skipped)
				require.Equal(t, ids(want.Applied), ids(got.Applied), "applied, in order")
				for i := 1; i < len(got.Applied); i++ {
					require.Greater(t, got.Applied[i].Seq, got.Applied[i-1].Seq, "seq follows apply order")
				}
				require.Equal(t, docsByKey(want.Changed), docsByKey(got.Changed))
			}

			wantSnap, err := m.Snapshot(ctx)
			require.NoError(t, err)
			gotSnap, err := s.Snapshot(ctx)
			require.NoError(t, err)
			require.Equal(t, docsByKey(wantSnap.Documents), docsByKey(gotSnap.Documents))
			require.Equal(t, wantSnap.Heads, gotSnap.Heads)
			require.Equal(t, wantSnap.VectorClock, gotSnap.VectorClock)
			require.Len(t, gotSnap.Heads, 3)

			// The same snapshot merged into stores that hold part of the
			// history (some of their documents newer, some older).
			s2, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "db2"), EnableWAL: true})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s2.Close()) })
			m2 := memory.New()
			part := all[:len(all)/2]
			_, err = m2.ApplyRemote(ctx, lww, part)
			require.NoError(t, err)
			_, err = s2.ApplyRemote(ctx, lww, part)
			require.NoError(t, err)
			half, err := m2.Snapshot(ctx)
			require.NoError(t, err)
			want, err := m2.ApplySnapshot(ctx, lww, wantSnap)
			require.NoError(t, err)
			got, err := s2.ApplySnapshot(ctx, lww, wantSnap)
			require.NoError(t, err)
			require.NotEmpty(t, got.Changed)
			require.Less(t, len(got.Changed), len(wantSnap.Documents), "documents already newest are not changes")
			require.Equal(t, docsByKey(want.Changed), docsByKey(got.Changed))
			gotSnap, err = s2.Snapshot(ctx)
			require.NoError(t, err)
			require.Equal(t, docsByKey(wantSnap.Documents), docsByKey(gotSnap.Documents))
			require.NotEqual(t, docsByKey(half.Documents), docsByKey(gotSnap.Documents))
		})
	}
}

func ids(entries []domain.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Stamp.String() + "/" + e.Collection + "/" + e.Key + "/" + e.Hash
	}
	return out
}

func docsByKey(docs []domain.Document) map[string]domain.Document {
	out := map[string]domain.Document{}
	for _, d := range docs {
		if len(d.Data) == 0 {
			d.Data = nil
		}
		out[d.Collection+"/"+d.Key] = d
	}
	return out
}

// TestCommitBatchesMatchMemory: local commits of many writes (the
// multi-row path) and of one write give the same entries, chains and
// documents as the memory adapter.
func TestCommitBatchesMatchMemory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTemp(t)
	m := memory.New()
	rng := rand.New(rand.NewPCG(11, 12))
	wall := wall0
	var lastSeq int64
	for range diffCommitCalls {
		n := 1 + rng.IntN(5)
		if rng.IntN(5) == 0 {
			n = 400 + rng.IntN(400) // more than one multi-row statement
		}
		writes := make([]ports.Write, n)
		for i := range writes {
			wall++
			node := "A"
			if rng.IntN(4) == 0 {
				node = "A2" // a second author in the same commit
			}
			e := domain.Entry{Collection: "c", Key: fmt.Sprintf("k%d", rng.IntN(60)), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"w":%d}`, wall), Stamp: domain.Timestamp{Wall: wall, Node: node}}
			if rng.IntN(7) == 0 {
				e.Op, e.Data = domain.OpDelete, nil
			}
			writes[i] = ports.Write{Entry: e}
		}
		want, err := m.Commit(ctx, lww, writes...)
		require.NoError(t, err)
		got, err := s.Commit(ctx, lww, writes...)
		require.NoError(t, err)
		require.Equal(t, ids(want), ids(got))
		for i := range got {
			require.Equal(t, want[i].PrevHash, got[i].PrevHash)
			require.Greater(t, got[i].Seq, lastSeq, "seq follows write order")
			lastSeq = got[i].Seq
		}
	}
	wantSnap, err := m.Snapshot(ctx)
	require.NoError(t, err)
	gotSnap, err := s.Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, docsByKey(wantSnap.Documents), docsByKey(gotSnap.Documents))
	require.Equal(t, wantSnap.Heads, gotSnap.Heads)
	require.Equal(t, wantSnap.VectorClock, gotSnap.VectorClock)

	// A write already in the oplog fails the whole commit: nothing of it
	// is stored.
	wall++
	fresh := ports.Write{Entry: domain.Entry{Collection: "c", Key: "fresh", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: wall, Node: "A"}}}
	dup := ports.Write{Entry: domain.Entry{Collection: "c", Key: "dup", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: wall + 1, Node: "A"}}}
	_, err = s.Commit(ctx, lww, dup)
	require.NoError(t, err)
	_, err = s.Commit(ctx, lww, fresh, dup)
	require.Error(t, err)
	_, err = s.Get(ctx, "c", "fresh")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(err))
	heads, err := s.Heads(ctx)
	require.NoError(t, err)
	require.NotEqual(t, gotSnap.Heads["A"], "")
	_, err = s.Commit(ctx, lww, fresh)
	require.NoError(t, err, "the failed commit left no trace")
	require.NotEqual(t, heads["A"], "")
}
