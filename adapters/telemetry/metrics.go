package telemetry

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/entgldb/entgldb-go/ports"
)

// Namespace prefixes every metric of ours.
const Namespace = "entgldb"

// NewRegistry returns a registry of our own (never the global one, so two
// nodes in one process or test do not collide) holding the Go runtime and
// process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// Breaker states for Metrics.BreakerState.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// Metrics are the entgldb_ metrics. Every method is safe on a nil *Metrics
// (it does nothing), so components take an optional *Metrics and embedders
// without Prometheus pass nil.
type Metrics struct {
	documentsWritten prometheus.Counter
	documentsApplied prometheus.Counter
	syncRounds       *prometheus.CounterVec
	syncFailures     *prometheus.CounterVec
	syncRoundTime    *prometheus.HistogramVec
	bytesIn          prometheus.Counter
	bytesOut         prometheus.Counter
	retries          *prometheus.CounterVec
	breakerState     *prometheus.GaugeVec
	offlineQueue     prometheus.Gauge
	peersConnected   prometheus.Gauge
	driftRejections  prometheus.Counter
	entriesRefused   *prometheus.CounterVec
	pushesRefused    prometheus.Counter
	peersFailing     prometheus.Gauge
	backupsMade      prometheus.Counter
	storage          storageMetrics // storage.go

	// cacheStats feeds the cache metrics at scrape time (nil: zeros).
	cacheStats func() ports.CacheStats
	// lastBackup is the Unix ms of the newest backup, 0 = none yet.
	lastBackup atomic.Int64
	now        func() time.Time

	mu sync.Mutex // serializes BreakerState's read-modify of the label set
}

// NewMetrics creates the metrics and registers them on reg. The cache
// metrics read cacheStats at scrape time (nil: they stay 0).
func NewMetrics(reg prometheus.Registerer, cacheStats func() ports.CacheStats) *Metrics {
	m := &Metrics{now: time.Now, cacheStats: cacheStats}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	}
	m.documentsWritten = counter("documents_written_total", "Documents written (put or deleted) by local clients.")
	m.documentsApplied = counter("documents_applied_total", "Remote changes applied from peers.")
	m.syncRounds = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sync_rounds_total",
		Help: "Sync rounds with a peer, successful or not."}, []string{"peer"})
	m.syncFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sync_failures_total",
		Help: "Sync rounds with a peer that failed."}, []string{"peer"})
	m.syncRoundTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "sync_round_duration_seconds",
		Help: "Time of a sync round's session with one peer, by outcome (ok or failed).",
		// From an in-sync round on loopback to a bootstrap of a large database.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}},
		[]string{"outcome"})
	// Both series from the start: a scrape before the first round sees them.
	m.syncRoundTime.WithLabelValues("ok")
	m.syncRoundTime.WithLabelValues("failed")
	m.bytesIn = counter("network_received_bytes_total", "Bytes received from peers on the sync protocol.")
	m.bytesOut = counter("network_sent_bytes_total", "Bytes sent to peers on the sync protocol.")
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "retries_total",
		Help: "Retried requests to a peer."}, []string{"peer"})
	m.breakerState = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "breaker_state",
		Help: "Circuit breaker state per peer: 1 for the current state, 0 for the others."}, []string{"peer", "state"})
	m.offlineQueue = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "offline_queue_length",
		Help: "Local changes no peer has confirmed holding yet (the offline queue)."})
	m.peersConnected = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "peers_connected",
		Help: "Peers currently connected."})
	m.driftRejections = counter("hlc_drift_rejections_total", "Remote timestamps rejected for being too far ahead of our clock.")
	m.entriesRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "entries_refused_total",
		Help: "Entries from peers refused (pulled or pushed to us), by cause."}, []string{"cause"})
	m.pushesRefused = counter("pushes_refused_total", "Pushes of ours that a peer did not fully apply (answered success=false).")
	m.peersFailing = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "peers_failing",
		Help: "Peers whose latest replication attempt failed (a failed round, or a push they did not apply)."})
	m.backupsMade = counter("backups_total", "Backups written.")
	m.storage = newStorageMetrics(reg)

	cache := func(f func(ports.CacheStats) float64) func() float64 {
		return func() float64 {
			if m.cacheStats == nil {
				return 0
			}
			return f(m.cacheStats())
		}
	}
	reg.MustRegister(
		m.documentsWritten, m.documentsApplied, m.syncRounds, m.syncFailures, m.syncRoundTime, m.bytesIn, m.bytesOut,
		m.retries, m.breakerState, m.offlineQueue, m.peersConnected, m.driftRejections, m.backupsMade,
		m.entriesRefused, m.pushesRefused, m.peersFailing,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_hits_total",
			Help: "Document cache hits."}, cache(func(s ports.CacheStats) float64 { return float64(s.Hits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_misses_total",
			Help: "Document cache misses."}, cache(func(s ports.CacheStats) float64 { return float64(s.Misses) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_evictions_total",
			Help: "Documents evicted from the cache."}, cache(func(s ports.CacheStats) float64 { return float64(s.Evictions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "cache_bytes",
			Help: "Bytes held by the document cache."}, cache(func(s ports.CacheStats) float64 { return float64(s.Bytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "cache_entries",
			Help: "Documents held by the document cache."}, cache(func(s ports.CacheStats) float64 { return float64(s.Entries) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "backup_age_seconds",
			Help: "Seconds since the newest backup; -1 before the first one."}, m.backupAge),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "backup_last_timestamp_seconds",
			Help: "Unix time of the newest backup; 0 before the first one."}, func() float64 {
			return float64(m.lastBackup.Load()) / 1000
		}),
	)
	return m
}

// DocumentsWritten counts n local writes (puts and deletes).
func (m *Metrics) DocumentsWritten(n int) {
	if m != nil && n > 0 {
		m.documentsWritten.Add(float64(n))
	}
}

// DocumentsApplied counts n remote changes applied.
func (m *Metrics) DocumentsApplied(n int) {
	if m != nil && n > 0 {
		m.documentsApplied.Add(float64(n))
	}
}

// SyncRound counts one sync round with peer, and a failure when !ok.
func (m *Metrics) SyncRound(peer string, ok bool) {
	if m == nil {
		return
	}
	m.syncRounds.WithLabelValues(peer).Inc()
	if !ok {
		m.syncFailures.WithLabelValues(peer).Inc()
	}
}

// SyncRoundTook observes one round's duration, under outcome "ok" or
// "failed" (no peer label: the histogram's series stay few).
func (m *Metrics) SyncRoundTook(d time.Duration, ok bool) {
	if m == nil {
		return
	}
	outcome := "ok"
	if !ok {
		outcome = "failed"
	}
	m.syncRoundTime.WithLabelValues(outcome).Observe(d.Seconds())
}

// BytesIn counts bytes received from peers.
func (m *Metrics) BytesIn(n int) {
	if m != nil && n > 0 {
		m.bytesIn.Add(float64(n))
	}
}

// BytesOut counts bytes sent to peers.
func (m *Metrics) BytesOut(n int) {
	if m != nil && n > 0 {
		m.bytesOut.Add(float64(n))
	}
}

// Retry counts one retried request to peer.
func (m *Metrics) Retry(peer string) {
	if m != nil {
		m.retries.WithLabelValues(peer).Inc()
	}
}

// BreakerState records peer's circuit breaker state (BreakerClosed,
// BreakerHalfOpen or BreakerOpen): that state's series is 1, the others 0.
func (m *Metrics) BreakerState(peer, state string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range []string{BreakerClosed, BreakerHalfOpen, BreakerOpen} {
		v := 0.0
		if s == state {
			v = 1
		}
		m.breakerState.WithLabelValues(peer, s).Set(v)
	}
}

// ForgetPeer drops the per-peer series of a peer that is gone, so label
// sets do not grow with every peer ever seen.
func (m *Metrics) ForgetPeer(peer string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	labels := prometheus.Labels{"peer": peer}
	m.syncRounds.DeletePartialMatch(labels)
	m.syncFailures.DeletePartialMatch(labels)
	m.retries.DeletePartialMatch(labels)
	m.breakerState.DeletePartialMatch(labels)
}

// OfflineQueueLength sets the number of local changes no peer has confirmed.
func (m *Metrics) OfflineQueueLength(n int) {
	if m != nil {
		m.offlineQueue.Set(float64(n))
	}
}

// PeersConnected sets the number of connected peers.
func (m *Metrics) PeersConnected(n int) {
	if m != nil {
		m.peersConnected.Set(float64(n))
	}
}

// ClockDriftRejected counts one remote timestamp rejected with CLOCK_DRIFT.
func (m *Metrics) ClockDriftRejected() {
	if m != nil {
		m.driftRejections.Inc()
	}
}

// EntriesRefused counts n entries from peers refused for cause (a small,
// fixed set: the label never carries a peer).
func (m *Metrics) EntriesRefused(cause string, n int) {
	if m != nil && n > 0 {
		m.entriesRefused.WithLabelValues(cause).Add(float64(n))
	}
}

// PushRefused counts one push a peer did not fully apply.
func (m *Metrics) PushRefused() {
	if m != nil {
		m.pushesRefused.Inc()
	}
}

// PeersFailing sets how many peers' latest replication attempt failed.
func (m *Metrics) PeersFailing(n int) {
	if m != nil {
		m.peersFailing.Set(float64(n))
	}
}

// BackupMade records a backup finished at t (feeds the backup age).
func (m *Metrics) BackupMade(t time.Time) {
	if m == nil {
		return
	}
	m.backupsMade.Inc()
	ms := t.UnixMilli()
	for { // keep the newest even when backups finish out of order
		old := m.lastBackup.Load()
		if ms <= old || m.lastBackup.CompareAndSwap(old, ms) {
			return
		}
	}
}

func (m *Metrics) backupAge() float64 {
	last := m.lastBackup.Load()
	if last == 0 {
		return -1
	}
	return float64(m.now().UnixMilli()-last) / 1000
}
