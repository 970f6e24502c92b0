package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/entgldb/entgldb-go/ports"
)

// storageMetrics are what the store holds and what maintenance removed
// (app.Maintenance), updated after each pass.
type storageMetrics struct {
	oplogEntries, tombstones, diskBytes, lastPass prometheus.Gauge
	entriesRemoved, tombstonesRemoved             prometheus.Counter
}

func newStorageMetrics(reg prometheus.Registerer) storageMetrics {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	}
	s := storageMetrics{
		oplogEntries: gauge("oplog_entries", "Oplog entries held, as of the last maintenance pass."),
		tombstones: gauge("tombstones",
			"Deleted documents' rows (deletes in the oplog and the markers of collected ones), as of the last maintenance pass."),
		diskBytes: gauge("database_bytes", "Database file plus WAL on disk, as of the last maintenance pass."),
		lastPass:  gauge("maintenance_last_timestamp_seconds", "Unix time of the last maintenance pass; 0 before the first."),
		entriesRemoved: counter("maintenance_entries_removed_total",
			"Oplog entries removed by maintenance (superseded versions every known peer holds or past the retention, collected tombstones)."),
		tombstonesRemoved: counter("maintenance_tombstones_removed_total", "Tombstones collected by maintenance."),
	}
	reg.MustRegister(s.oplogEntries, s.tombstones, s.diskBytes, s.lastPass, s.entriesRemoved, s.tombstonesRemoved)
	return s
}

// MaintenancePass records a maintenance pass that ended at t, what it
// removed and the store's stats after it.
func (m *Metrics) MaintenancePass(t time.Time, res ports.CompactionResult, st ports.StorageStats) {
	if m == nil {
		return
	}
	s := &m.storage
	s.oplogEntries.Set(float64(st.OplogEntries))
	s.tombstones.Set(float64(st.Tombstones))
	s.diskBytes.Set(float64(st.DiskBytes))
	s.lastPass.Set(float64(t.UnixMilli()) / 1000)
	s.entriesRemoved.Add(float64(res.EntriesRemoved))
	s.tombstonesRemoved.Add(float64(res.TombstonesRemoved))
}
