package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/ports"
)

func TestMaintenanceMetrics(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg, nil)
	get := func(name string) float64 {
		t.Helper()
		v, ok := value(t, reg, name, nil)
		require.True(t, ok, "%s missing", name)
		return v
	}
	require.Zero(t, get("entgldb_maintenance_last_timestamp_seconds"), "no pass yet")
	at := time.Unix(1_700_000_000, 0)
	m.MaintenancePass(at, ports.CompactionResult{EntriesRemoved: 7, TombstonesRemoved: 2},
		ports.StorageStats{OplogEntries: 40, Tombstones: 5, DiskBytes: 4096})
	m.MaintenancePass(at, ports.CompactionResult{EntriesRemoved: 3}, ports.StorageStats{OplogEntries: 37, Tombstones: 5, DiskBytes: 4096})
	require.Equal(t, 37.0, get("entgldb_oplog_entries"))
	require.Equal(t, 5.0, get("entgldb_tombstones"))
	require.Equal(t, 4096.0, get("entgldb_database_bytes"))
	require.Equal(t, float64(at.Unix()), get("entgldb_maintenance_last_timestamp_seconds"))
	require.Equal(t, 10.0, get("entgldb_maintenance_entries_removed_total"))
	require.Equal(t, 2.0, get("entgldb_maintenance_tombstones_removed_total"))

	var none *Metrics
	none.MaintenancePass(at, ports.CompactionResult{}, ports.StorageStats{}) // a nil *Metrics does nothing
}
