package entgldb_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
)

// A lone node (no peer ever configured) is not failing: ten times
// Sync.MaxQueueSize of ordinary writes leave its health clean, no error
// recorded, and the offline queue counts every write no peer has.
func TestLoneNodeStaysHealthyPastMaxQueueSize(t *testing.T) {
	ctx := t.Context()
	cfg := entgldb.LocalConfig(t.TempDir())
	cfg.Sync.MaxQueueSize = 1000
	db, err := entgldb.Open(ctx, entgldb.Options{Config: cfg})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	c := db.Collection("readings")
	const writes = 10_000
	for i := range writes {
		_, err := c.Put(ctx, fmt.Sprintf("r%d", i%500), []byte(fmt.Sprintf(`{"v":%d}`, i)))
		require.NoError(t, err)
	}
	st := db.Status(ctx)
	require.Equal(t, writes, st.OfflineQueueLen, "every change no peer holds")
	require.Empty(t, st.RecentErrors)
	h := db.Health(ctx)
	require.True(t, h.IsHealthy, "%+v", h)
	require.Empty(t, h.Errors)
}
