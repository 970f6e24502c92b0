package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A compaction batch's removals follow the time the last write took: a
// slow write shrinks the next batch, a fast one grows it, within bounds.
func TestCompactionBatchFollowsWriteTime(t *testing.T) {
	t.Parallel()
	require.Less(t, nextLimit(compactBatch, compactBatch, 4*compactHold), compactBatch)
	require.Equal(t, compactMinRemove, nextLimit(compactMinRemove, compactMinRemove, time.Second))
	require.Greater(t, nextLimit(compactMinRemove, compactMinRemove, compactHold/10), compactMinRemove)
	require.Equal(t, compactBatch, nextLimit(compactBatch, compactBatch, 0))
	require.Equal(t, compactBatch, nextLimit(compactBatch, compactBatch, compactHold/100))
}

// A pass pauses after a batch only while writers are adding entries: over
// an idle store it runs without pausing, beside a writer it lets it in.
func TestCompactionPausesOnlyForActiveWriters(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	var pauses atomic.Int64
	pauseForWriters = func(ctx context.Context, held time.Duration) { pauses.Add(1); yieldToWriters(ctx, held) }
	t.Cleanup(func() { pauseForWriters = yieldToWriters })

	wall := time.Now().UnixMilli() - 60_000
	update := func(i int) {
		e := domain.Entry{Collection: "c", Key: fmt.Sprint("k", i%10), Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"i":%d}`, i), Stamp: domain.Timestamp{Wall: wall + int64(i), Node: "A"}}
		_, err := s.Commit(t.Context(), domain.LastWriteWins{}, ports.Write{Entry: e})
		require.NoError(t, err)
	}
	// Enough superseded entries for many batches.
	const history = 10 * compactBatch
	for i := range history {
		update(i)
	}
	policy := func() domain.CompactionPolicy {
		return domain.CompactionPolicy{HeldByAll: domain.VectorClock{}, Now: time.Now().UnixMilli() + 60_000,
			OplogRetention: time.Millisecond, TombstoneRetention: time.Millisecond}
	}
	res, err := s.Compact(t.Context(), policy())
	require.NoError(t, err)
	require.Greater(t, res.EntriesRemoved, 5*compactBatch, "removed")
	require.Zero(t, pauses.Load(), "an idle pass paused")

	for i := history; i < 2*history; i++ {
		update(i)
	}
	// A writer keeps adding entries while the second pass runs.
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := 2 * history; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e := domain.Entry{Collection: "w", Key: fmt.Sprint("w", i%10), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"i":%d}`, i), Stamp: domain.Timestamp{Wall: wall + int64(i), Node: "A"}}
			if _, err := s.Commit(context.Background(), domain.LastWriteWins{}, ports.Write{Entry: e}); err != nil {
				return
			}
		}
	}()
	res, err = s.Compact(t.Context(), policy())
	close(stop)
	<-wrote
	require.NoError(t, err)
	require.Greater(t, res.EntriesRemoved, 5*compactBatch, "removed")
	require.Positive(t, pauses.Load(), "a pass beside a writer never paused")
}

// The ordered reads that settle a batch's boundaries (compactChain) leave
// what one lookup per removed entry leaves (compactLinks, the fallback an
// author's long read stops at): random histories of a local author and two
// remote ones, whose entries arrive out of order, interleaved and some
// sharing a stamp, compacted in steps as peers come to hold more, keep the
// same oplog rows and link boundaries whatever the read's bound.
func TestCompactionOrderedReadsMatchLookups(t *testing.T) {
	defer func(max int) { chainReadMax = max }(chainReadMax)
	for seed := range uint64(4) {
		var want compactOutcome
		for i, readMax := range []int{chainReadMax, 2, 0} {
			chainReadMax = readMax
			got := compactRandomHistory(t, seed)
			require.NotEmpty(t, got.boundaries[0], "seed %d: the history leaves holes", seed)
			if i == 0 {
				want = got
				continue
			}
			require.Equal(t, want, got, "seed %d, reads of at most %d rows", seed, readMax)
		}
	}
}

type compactOutcome struct {
	passes     [][]int64           // the oplog's seqs after each pass
	boundaries []map[string]string // hash → link, hex, after each pass
}

func compactRandomHistory(t *testing.T, seed uint64) compactOutcome {
	t.Helper()
	ctx := t.Context()
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	rnd := rand.New(rand.NewPCG(seed, 17))
	const wall0 = 1_700_000_000_000
	// Remote chains: some entries share their predecessor's stamp.
	chains := map[string][]domain.Entry{}
	for _, node := range []string{"B", "C"} {
		prev, wall, logic := "", int64(wall0), int32(0)
		for i := range 300 {
			if rnd.IntN(2) > 0 {
				wall, logic = wall+int64(1+rnd.IntN(3)), 0
			}
			e := domain.Entry{Collection: "c", Key: fmt.Sprint("k", rnd.IntN(80)), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"%s":%d}`, node, i), Stamp: domain.Timestamp{Wall: wall, Logical: logic, Node: node}}
			if rnd.IntN(10) == 0 {
				e.Op, e.Data = domain.OpDelete, nil
			}
			e.Seal(prev)
			prev = e.Hash
			chains[node] = append(chains[node], e)
		}
	}
	// Interleaved with local writes, each remote chain arrives in runs,
	// some of a later part before an earlier one.
	var runs [][]domain.Entry
	for _, node := range []string{"B", "C"} {
		c := chains[node]
		for len(c) > 0 {
			n := min(len(c), 1+rnd.IntN(40))
			runs = append(runs, c[:n])
			c = c[n:]
		}
	}
	rnd.Shuffle(len(runs), func(i, j int) {
		if rnd.IntN(3) == 0 {
			runs[i], runs[j] = runs[j], runs[i]
		}
	})
	local := int64(wall0)
	for _, run := range runs {
		_, err := s.ApplyRemote(ctx, domain.LastWriteWins{}, run)
		require.NoError(t, err)
		for range rnd.IntN(20) {
			local += int64(1 + rnd.IntN(3))
			e := domain.Entry{Collection: "c", Key: fmt.Sprint("k", rnd.IntN(12)), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"L":%d}`, local), Stamp: domain.Timestamp{Wall: local, Node: "L"}}
			_, err := s.Commit(ctx, domain.LastWriteWins{}, ports.Write{Entry: e})
			require.NoError(t, err)
		}
	}
	// Peers come to hold more of each chain, pass after pass.
	var out compactOutcome
	for step := 1; step <= 4; step++ {
		held := domain.VectorClock{}
		for node, c := range chains {
			held[node] = c[len(c)*step/4-1].Stamp
		}
		held["L"] = domain.Timestamp{Wall: wall0 + int64(step)*int64(local-wall0)/4, Node: "L"}
		_, err := s.Compact(ctx, domain.CompactionPolicy{HeldByAll: held, Now: wall0, OplogRetention: time.Hour, TombstoneRetention: time.Hour})
		require.NoError(t, err)
		var seqs []int64
		rows, err := s.reader.DB.QueryContext(ctx, `SELECT seq FROM oplog ORDER BY seq`)
		require.NoError(t, err)
		for rows.Next() {
			var seq int64
			require.NoError(t, rows.Scan(&seq))
			seqs = append(seqs, seq)
		}
		require.NoError(t, rows.Err())
		out.passes = append(out.passes, seqs)
		bounds := map[string]string{}
		rows, err = s.reader.DB.QueryContext(ctx, `SELECT hash, hex(link) FROM link_boundaries`)
		require.NoError(t, err)
		for rows.Next() {
			var h, link string
			require.NoError(t, rows.Scan(&h, &link))
			bounds[h] = link
		}
		require.NoError(t, rows.Err())
		out.boundaries = append(out.boundaries, bounds)
	}
	return out
}
