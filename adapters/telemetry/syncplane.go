package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// SyncPlane reads the sync plane's trust counters at scrape time.
type SyncPlane struct {
	// OpenCluster: the node admits anyone (Security.OpenCluster).
	OpenCluster bool
	// HandshakesRefused returns the refused sync connections since start, by
	// reason (nil: none reported).
	HandshakesRefused func() map[string]int64
	// Beacons returns discovery's datagram counters by outcome (accepted,
	// bad_mac, stale, over_cap, malformed; nil: none reported).
	Beacons func() map[string]int64
}

// syncPlaneCollector exports SyncPlane as entgldb_open_cluster,
// entgldb_handshakes_refused_total{reason} and entgldb_beacons_total{outcome}.
type syncPlaneCollector struct {
	sp      SyncPlane
	open    *prometheus.Desc
	refused *prometheus.Desc
	beacons *prometheus.Desc
}

// RegisterSyncPlane adds the sync plane's metrics to reg.
func RegisterSyncPlane(reg prometheus.Registerer, sp SyncPlane) error {
	return reg.Register(&syncPlaneCollector{
		sp: sp,
		open: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "open_cluster"),
			"1 when the node runs an open cluster (no secret: anyone may join).", nil, nil),
		refused: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "handshakes_refused_total"),
			"Sync connections refused before or during the handshake, by reason.", []string{"reason"}, nil),
		beacons: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "beacons_total"),
			"Discovery datagrams received, by outcome.", []string{"outcome"}, nil),
	})
}

func (c *syncPlaneCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.refused
	ch <- c.beacons
}

func (c *syncPlaneCollector) Collect(ch chan<- prometheus.Metric) {
	open := 0.0
	if c.sp.OpenCluster {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, open)
	collectCounts(ch, c.refused, c.sp.HandshakesRefused)
	collectCounts(ch, c.beacons, c.sp.Beacons)
}

func collectCounts(ch chan<- prometheus.Metric, d *prometheus.Desc, counts func() map[string]int64) {
	if counts == nil {
		return
	}
	for label, n := range counts() {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), label)
	}
}
