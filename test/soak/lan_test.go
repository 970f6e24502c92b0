package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/domain"
)

func TestSecretScannerFindsNeedleAcrossChunks(t *testing.T) {
	secret := []byte("soak-cluster")
	stream := []byte("xxxxsoak-clusteryyyy soak-cl" + "uster zz soak-cluste")
	for chunk := 1; chunk <= len(stream); chunk++ {
		s := newSecretScanner(secret, []byte("another-needle-longer"))
		for i := 0; i < len(stream); i += chunk {
			_, _ = s.Write(stream[i:min(i+chunk, len(stream))])
		}
		assert.Equal(t, 2, s.hits, "chunk size %d", chunk)
		assert.LessOrEqual(t, len(s.tail), len("another-needle-longer")-1, "the tail stays bounded")
	}
	s := newSecretScanner(secret)
	_, _ = s.Write(bytes.Repeat([]byte("soak-clust"), 100))
	assert.Zero(t, s.hits)
}

func TestLabelledSamples(t *testing.T) {
	body := []byte(`# HELP entgldb_handshakes_refused_total Sync connections refused.
# TYPE entgldb_handshakes_refused_total counter
entgldb_handshakes_refused_total{reason="wrong_key"} 12
entgldb_handshakes_refused_total{reason="legacy"} 3
entgldb_handshakes_refused_total_extra 99
entgldb_beacons_total{outcome="bad_mac"} 1e+03
entgldb_beacons_total{node="x",outcome="stale"} 4
entgldb_open_cluster 0
`)
	assert.Equal(t, map[string]float64{"wrong_key": 12, "legacy": 3}, labelledSamples(body, "entgldb_handshakes_refused_total", "reason"))
	assert.Equal(t, map[string]float64{"bad_mac": 1000, "stale": 4}, labelledSamples(body, "entgldb_beacons_total", "outcome"))
	assert.Equal(t, map[string]float64{"": 0}, labelledSamples(body, "entgldb_open_cluster", "x"))
	assert.Empty(t, labelledSamples(body, "entgldb_missing", "reason"))
}

func TestForgedBeaconsAreRefusedByTheRealParser(t *testing.T) {
	realKey, err := protocol.DeriveBeaconKey([]byte("soak-cluster"))
	require.NoError(t, err)
	wrongKey, err := protocol.DeriveBeaconKey([]byte("not-the-cluster-key"))
	require.NoError(t, err)
	now := time.Now()
	captured, err := protocol.Beacon{NodeID: "soak-1", TCPPort: 5001, SentAt: now.UnixMilli()}.Marshal(realKey)
	require.NoError(t, err)
	_, err = protocol.ParseBeacon(captured, realKey)
	require.NoError(t, err, "the capture itself is genuine")

	want := map[beaconKind]domain.Code{
		beaconWrongKey: domain.CodeUnauthorized, beaconUntagged: domain.CodeUnauthorized,
		beaconTampered: domain.CodeUnauthorized, beaconJSON: domain.CodeNetwork,
	}
	for kind, code := range want {
		msg, err := forgeBeacon(kind, wrongKey, captured, 40000, 7, now)
		require.NoError(t, err, kind)
		_, err = protocol.ParseBeacon(msg, realKey)
		assert.Equal(t, code, domain.CodeOf(err), kind)
	}
	js, err := forgeBeacon(beaconJSON, wrongKey, nil, 40000, 7, now)
	require.NoError(t, err)
	assert.True(t, json.Valid(js))
	_, err = forgeBeacon(beaconTampered, nil, []byte("short"), 40000, 1, now)
	assert.Error(t, err)
	_, err = forgeBeacon(beaconReplay, nil, captured, 40000, 1, now)
	assert.Error(t, err, "a replay is the capture itself, not a forgery")
}

func TestReplayAllowedOnlyToASettledNode(t *testing.T) {
	t0 := time.Unix(1000, 0)
	settle, age := 2*time.Second, 200*time.Millisecond
	assert.True(t, replayAllowed(t0.Add(-3*time.Second), t0, t0.Add(time.Second), false, settle, age))
	assert.False(t, replayAllowed(t0.Add(-time.Second), t0, t0.Add(time.Second), false, settle, age), "restarted just before the original")
	assert.False(t, replayAllowed(t0.Add(500*time.Millisecond), t0, t0.Add(time.Second), false, settle, age), "restarted after the original")
	assert.False(t, replayAllowed(t0.Add(-3*time.Second), t0, t0.Add(time.Second), true, settle, age), "isolated")
	assert.False(t, replayAllowed(t0.Add(-3*time.Second), t0, t0.Add(100*time.Millisecond), false, settle, age), "original maybe not read yet")
}

func TestLuredLogLines(t *testing.T) {
	log := `{"level":"info","msg":"peer discovered","peer":"soak-1","address":"127.0.0.1:5001"}
{"level":"info","msg":"peer discovered","peer":"soak-1","address":"127.0.0.66:5001"}
{"level":"info","msg":"peer address changed","peer":"lan-forged-9","address":"127.0.0.1:6"}
{"level":"info","msg":"sync round","peer":"lan-forged-9"}`
	lines := luredLogLines(log)
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "127.0.0.66:5001")
	assert.Contains(t, lines[1], "lan-forged-9")
}

func TestLANOutcomeProblems(t *testing.T) {
	ok := lanOutcome{ran: true, beaconsSent: 10, replaysSent: 2, brotliSent: 3, relayConns: 1,
		seen: nodeCounters{refused: 3, beacons: map[string]float64{"bad_mac": 8, "stale": 2}}}
	assert.Empty(t, ok.problems())

	for name, mutate := range map[string]func(o *lanOutcome){
		"beacon taken":     func(o *lanOutcome) { o.luredLines = []string{"peer discovered 127.0.0.66:1"} },
		"node lured":       func(o *lanOutcome) { o.lured = 1 },
		"secret on relay":  func(o *lanOutcome) { o.relaySecretSeen = 1 },
		"brotli answered":  func(o *lanOutcome) { o.brotliAnswered = 1 },
		"idle relay":       func(o *lanOutcome) { o.relayConns = 0 },
		"no drops counted": func(o *lanOutcome) { o.seen.beacons = map[string]float64{"stale": 2} },
		"no stale counted": func(o *lanOutcome) { o.seen.beacons = map[string]float64{"bad_mac": 8} },
		"no refusals":      func(o *lanOutcome) { o.seen.refused = 0 },
		"did not run":      func(o *lanOutcome) { o.ran = false },
	} {
		o := ok
		mutate(&o)
		assert.NotEmpty(t, o.problems(), name)
	}
}

func TestCountersSinceAcrossRestart(t *testing.T) {
	before := nodeCounters{started: 1, refused: 5, refusedBy: map[string]float64{"a": 5}, beacons: map[string]float64{"stale": 2}}
	same := nodeCounters{started: 1, refused: 9, refusedBy: map[string]float64{"a": 9}, beacons: map[string]float64{"stale": 7}}
	d := same.since(before)
	assert.Equal(t, 4.0, d.refused)
	assert.Equal(t, 5.0, d.beacons["stale"])
	restarted := nodeCounters{started: 2, refused: 1, refusedBy: map[string]float64{"a": 1}}
	assert.Equal(t, 1.0, restarted.since(before).refused, "a new process counts from zero")
}
