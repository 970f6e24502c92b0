package telemetry_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/telemetry"
)

// gathered flattens reg's samples to "name{label}" → value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestSyncPlaneMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	refused := map[string]int64{"wrong_key": 3}
	require.NoError(t, telemetry.RegisterSyncPlane(reg, telemetry.SyncPlane{
		OpenCluster:       true,
		HandshakesRefused: func() map[string]int64 { return refused },
		Beacons:           func() map[string]int64 { return map[string]int64{"bad_mac": 5, "accepted": 2} },
	}))
	require.Equal(t, map[string]float64{
		"entgldb_open_cluster":                        1,
		"entgldb_handshakes_refused_total{wrong_key}": 3,
		"entgldb_beacons_total{accepted}":             2,
		"entgldb_beacons_total{bad_mac}":              5,
	}, gathered(t, reg))

	refused["legacy_not_allowed"] = 1
	require.Equal(t, 1.0, gathered(t, reg)["entgldb_handshakes_refused_total{legacy_not_allowed}"], "read at scrape time")

	closed := prometheus.NewRegistry()
	require.NoError(t, telemetry.RegisterSyncPlane(closed, telemetry.SyncPlane{}))
	require.Equal(t, map[string]float64{"entgldb_open_cluster": 0}, gathered(t, closed))
}
