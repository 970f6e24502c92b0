package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/ports"
)

// value returns the value of the series name{labels}, and whether it exists.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsMatch(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
		}
	}
	return 0, false
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestRegistryHasRuntimeCollectors(t *testing.T) {
	reg := NewRegistry()
	_, ok := value(t, reg, "go_goroutines", nil)
	assert.True(t, ok, "Go runtime collector")
	_, ok = value(t, reg, "process_open_fds", nil)
	assert.True(t, ok, "process collector")
	assert.NotSame(t, prometheus.DefaultRegisterer, reg)

	// Two nodes in one process get independent registries and metrics.
	NewMetrics(NewRegistry(), nil)
	NewMetrics(NewRegistry(), nil)
}

func TestMetrics(t *testing.T) {
	reg := NewRegistry()
	var stats ports.CacheStats
	m := NewMetrics(reg, func() ports.CacheStats { return stats })
	now := time.Unix(1_700_000_000, 0)
	m.now = func() time.Time { return now }

	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		v, ok := value(t, reg, name, labels)
		require.True(t, ok, "%s%v missing", name, labels)
		return v
	}
	peer := func(p string) map[string]string { return map[string]string{"peer": p} }

	// Before anything happens.
	assert.Equal(t, -1.0, get("entgldb_backup_age_seconds", nil))
	assert.Equal(t, 0.0, get("entgldb_cache_hits_total", nil), "no cache callback yet")

	m.DocumentsWritten(3)
	m.DocumentsWritten(-1) // ignored
	m.DocumentsApplied(5)
	m.SyncRound("n2", true)
	m.SyncRound("n2", false)
	m.SyncRound("n3", true)
	m.BytesIn(100)
	m.BytesOut(40)
	m.Retry("n2")
	m.Retry("n2")
	m.BreakerState("n2", BreakerOpen)
	m.OfflineQueueLength(7)
	m.PeersConnected(2)
	m.ClockDriftRejected()
	m.BackupMade(now.Add(-90 * time.Second))
	m.BackupMade(now.Add(-time.Hour)) // older: does not roll the age back
	stats = ports.CacheStats{Hits: 10, Misses: 4, Evictions: 1, Entries: 6, Bytes: 2048}

	assert.Equal(t, 3.0, get("entgldb_documents_written_total", nil))
	assert.Equal(t, 5.0, get("entgldb_documents_applied_total", nil))
	assert.Equal(t, 2.0, get("entgldb_sync_rounds_total", peer("n2")))
	assert.Equal(t, 1.0, get("entgldb_sync_failures_total", peer("n2")))
	assert.Equal(t, 1.0, get("entgldb_sync_rounds_total", peer("n3")))
	_, ok := value(t, reg, "entgldb_sync_failures_total", peer("n3"))
	assert.False(t, ok, "no failure series for a peer that never failed")
	assert.Equal(t, 100.0, get("entgldb_network_received_bytes_total", nil))
	assert.Equal(t, 40.0, get("entgldb_network_sent_bytes_total", nil))
	assert.Equal(t, 2.0, get("entgldb_retries_total", peer("n2")))
	assert.Equal(t, 1.0, get("entgldb_breaker_state", map[string]string{"peer": "n2", "state": "open"}))
	assert.Equal(t, 0.0, get("entgldb_breaker_state", map[string]string{"peer": "n2", "state": "closed"}))
	assert.Equal(t, 7.0, get("entgldb_offline_queue_length", nil))
	assert.Equal(t, 2.0, get("entgldb_peers_connected", nil))
	assert.Equal(t, 1.0, get("entgldb_hlc_drift_rejections_total", nil))
	assert.Equal(t, 2.0, get("entgldb_backups_total", nil))
	assert.Equal(t, 90.0, get("entgldb_backup_age_seconds", nil))
	assert.Equal(t, float64(now.Add(-90*time.Second).Unix()), get("entgldb_backup_last_timestamp_seconds", nil))
	assert.Equal(t, 10.0, get("entgldb_cache_hits_total", nil))
	assert.Equal(t, 4.0, get("entgldb_cache_misses_total", nil))
	assert.Equal(t, 1.0, get("entgldb_cache_evictions_total", nil))
	assert.Equal(t, 6.0, get("entgldb_cache_entries", nil))
	assert.Equal(t, 2048.0, get("entgldb_cache_bytes", nil))

	// The callback is read at scrape time.
	stats.Hits = 11
	assert.Equal(t, 11.0, get("entgldb_cache_hits_total", nil))

	m.BreakerState("n2", BreakerClosed)
	assert.Equal(t, 0.0, get("entgldb_breaker_state", map[string]string{"peer": "n2", "state": "open"}))
	assert.Equal(t, 1.0, get("entgldb_breaker_state", map[string]string{"peer": "n2", "state": "closed"}))

	m.ForgetPeer("n2")
	_, ok = value(t, reg, "entgldb_sync_rounds_total", peer("n2"))
	assert.False(t, ok, "forgotten peer's series are gone")
	assert.Equal(t, 1.0, get("entgldb_sync_rounds_total", peer("n3")))
}

func TestNilMetricsIsANoop(t *testing.T) {
	var m *Metrics
	m.DocumentsWritten(1)
	m.DocumentsApplied(1)
	m.SyncRound("p", false)
	m.BytesIn(1)
	m.BytesOut(1)
	m.Retry("p")
	m.BreakerState("p", BreakerOpen)
	m.ForgetPeer("p")
	m.OfflineQueueLength(1)
	m.PeersConnected(1)
	m.ClockDriftRejected()
	m.EntriesRefused("clock_drift", 1)
	m.PushRefused()
	m.PeersFailing(1)
	m.BackupMade(time.Now())
}

func TestMetricsRefusalsByCauseOnly(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg, nil)
	m.EntriesRefused("clock_drift", 3)
	m.EntriesRefused("clock_drift", 2)
	m.EntriesRefused("invalid_argument", 1)
	m.EntriesRefused("too_large", 0) // nothing refused: no series
	m.PushRefused()
	m.PushRefused()

	v, ok := value(t, reg, "entgldb_entries_refused_total", map[string]string{"cause": "clock_drift"})
	require.True(t, ok)
	assert.Equal(t, 5.0, v)
	v, ok = value(t, reg, "entgldb_entries_refused_total", map[string]string{"cause": "invalid_argument"})
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
	_, ok = value(t, reg, "entgldb_entries_refused_total", map[string]string{"cause": "too_large"})
	assert.False(t, ok)
	v, ok = value(t, reg, "entgldb_pushes_refused_total", nil)
	require.True(t, ok)
	assert.Equal(t, 2.0, v)
	m.PeersFailing(3)
	m.PeersFailing(1)
	v, ok = value(t, reg, "entgldb_peers_failing", nil)
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
}

// Sync rounds' durations land in a histogram by outcome, in seconds.
func TestSyncRoundDurationHistogram(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg, nil)
	histogram := func(outcome string) *dto.Histogram {
		t.Helper()
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() != "entgldb_sync_round_duration_seconds" {
				continue
			}
			for _, s := range f.GetMetric() {
				if labelsMatch(s, map[string]string{"outcome": outcome}) {
					return s.GetHistogram()
				}
			}
		}
		t.Fatalf("no sync round histogram for outcome %q", outcome)
		return nil
	}
	assert.Zero(t, histogram("ok").GetSampleCount(), "scraped before any round")

	m.SyncRoundTook(30*time.Millisecond, true)
	m.SyncRoundTook(3*time.Second, true)
	m.SyncRoundTook(2*time.Second, false)
	ok := histogram("ok")
	assert.Equal(t, uint64(2), ok.GetSampleCount())
	assert.InDelta(t, 3.03, ok.GetSampleSum(), 1e-9)
	for _, b := range ok.GetBucket() {
		switch b.GetUpperBound() {
		case .025:
			assert.Equal(t, uint64(0), b.GetCumulativeCount(), "30 ms is over 25 ms")
		case .05:
			assert.Equal(t, uint64(1), b.GetCumulativeCount())
		case 5:
			assert.Equal(t, uint64(2), b.GetCumulativeCount())
		}
	}
	assert.Equal(t, uint64(1), histogram("failed").GetSampleCount())

	var none *Metrics
	none.SyncRoundTook(time.Second, true) // a nil *Metrics ignores it
}
