package sqlite

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
