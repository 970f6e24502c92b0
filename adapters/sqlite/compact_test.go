package sqlite

import (
	"context"
	"fmt"
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
