package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/entgldb/entgldb-go/client"
)

// nodeCounters are a node's trust counters as it reports them: /metrics
// entgldb_handshakes_refused_total and entgldb_beacons_total, /healthz
// handshakes_refused. They count from the process's start.
type nodeCounters struct {
	started       float64            // process_start_time_seconds: which process answered
	refused       float64            // sum over reasons
	refusedBy     map[string]float64 // by reason
	healthRefused float64
	beacons       map[string]float64 // by outcome
}

func readCounters(ctx context.Context, n *node) (nodeCounters, error) {
	var nc nodeCounters
	resp, err := n.proc.Client().Do(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return nc, err
	}
	if resp.Status != http.StatusOK {
		return nc, fmt.Errorf("%s /metrics: status %d", n.name(), resp.Status)
	}
	nc.started = client.ParseMetrics(resp.Body)["process_start_time_seconds"]
	nc.refusedBy = labelledSamples(resp.Body, "entgldb_handshakes_refused_total", "reason")
	nc.refused = sumValues(nc.refusedBy)
	nc.beacons = labelledSamples(resp.Body, "entgldb_beacons_total", "outcome")
	h, err := n.proc.Client().Health(ctx)
	if err != nil {
		return nc, err
	}
	var rep struct {
		HandshakesRefused float64 `json:"handshakes_refused"`
	}
	if err := json.Unmarshal(h.Report, &rep); err != nil {
		return nc, fmt.Errorf("%s /healthz: %w", n.name(), err)
	}
	nc.healthRefused = rep.HandshakesRefused
	return nc, nil
}

// since is what a node counted between two readings: the difference when
// the same process answered both, else everything the later process
// counted (a lower bound: the earlier process's counts died with it).
func (nc nodeCounters) since(before nodeCounters) nodeCounters {
	if nc.started != before.started || before.refusedBy == nil {
		return nc
	}
	d := nodeCounters{started: nc.started, refused: nc.refused - before.refused, healthRefused: nc.healthRefused - before.healthRefused,
		refusedBy: map[string]float64{}, beacons: map[string]float64{}}
	for k, v := range nc.refusedBy {
		d.refusedBy[k] = v - before.refusedBy[k]
	}
	for k, v := range nc.beacons {
		d.beacons[k] = v - before.beacons[k]
	}
	return d
}

func (nc *nodeCounters) add(o nodeCounters) {
	if nc.refusedBy == nil {
		nc.refusedBy, nc.beacons = map[string]float64{}, map[string]float64{}
	}
	nc.refused += o.refused
	nc.healthRefused += o.healthRefused
	for k, v := range o.refusedBy {
		nc.refusedBy[k] += v
	}
	for k, v := range o.beacons {
		nc.beacons[k] += v
	}
}

// lanOutcome is what the soak judges at the end of the attack.
type lanOutcome struct {
	ran                 bool
	beaconsSent         int64
	replaysSent         int64
	brotliSent          int64
	brotliAnswered      int64
	lured, luredSecret  int64
	luredLines          []string
	relayConns          int64
	relaySecretSeen     int64
	seen                nodeCounters // summed over the nodes, during the attack
	counterReadFailures int
	runErr              error
}

// problems lists every attack that succeeded, and every check the attack
// made vacuous (nothing reached the nodes, so nothing was proven).
func (o lanOutcome) problems() []string {
	if !o.ran {
		return []string{"LAN attacker did not run: " + fmt.Sprint(o.runErr)}
	}
	var p []string
	if o.runErr != nil {
		p = append(p, "LAN attacker: "+o.runErr.Error())
	}
	if n := len(o.luredLines); n > 0 {
		p = append(p, fmt.Sprintf("LAN attacker: %d forged or replayed beacons taken as a peer, first: %s", n, o.luredLines[0]))
	}
	if o.lured > 0 {
		p = append(p, fmt.Sprintf("LAN attacker: nodes dialled the address its forged beacons announce %d times", o.lured))
	}
	if o.luredSecret > 0 || o.relaySecretSeen > 0 {
		p = append(p, fmt.Sprintf("cluster secret seen on the wire: %d times by the relay, %d by the lure", o.relaySecretSeen, o.luredSecret))
	}
	if o.brotliAnswered > 0 {
		p = append(p, fmt.Sprintf("LAN attacker: %d compressed pre-auth frames answered with a handshake", o.brotliAnswered))
	}
	if o.relayConns == 0 {
		p = append(p, "relay carried no connection: the relay check proved nothing")
	}
	if o.counterReadFailures == 0 {
		drops := o.seen.beacons["bad_mac"] + o.seen.beacons["malformed"]
		if o.beaconsSent > 0 && drops == 0 {
			p = append(p, "LAN attacker's beacons were sent but no node counted a dropped beacon")
		}
		if o.replaysSent > 0 && o.seen.beacons["stale"] == 0 {
			p = append(p, "LAN attacker's replays were sent but no node counted a stale beacon")
		}
		if o.brotliSent > 0 && o.seen.refused == 0 {
			p = append(p, "LAN attacker's pre-auth frames were sent but no node counted a refused handshake")
		}
	}
	return p
}

func formatCounts(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%.0f", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]float64) []string { return slices.Sorted(maps.Keys(m)) }

// lanAttack runs the LAN attacker for d and judges it: the nodes' counters
// before and after, the lines of their logs where they took a peer from
// the attacker, and what the relay and the lure saw.
func (c *cluster) lanAttack(ctx context.Context, d time.Duration, st *lanStats) lanOutcome {
	var o lanOutcome
	a, err := newLANAttacker(c, st)
	if err != nil {
		o.runErr = err
		return o
	}
	before := map[*node]nodeCounters{}
	for _, n := range c.nodes {
		if nc, err := readCounters(ctx, n); err == nil {
			before[n] = nc
		}
	}
	o.ran = true
	o.runErr = a.run(ctx, d)
	// The after-reading waits for nodes that are restarting (a kill or the
	// partition may be under way when the attack ends).
	for _, n := range c.nodes {
		var nc nodeCounters
		var err error
		for try := 0; try < 40; try++ {
			if nc, err = readCounters(ctx, n); err == nil || sleepCtx(ctx, 250*time.Millisecond) != nil {
				break
			}
		}
		if err != nil {
			o.counterReadFailures++
			continue
		}
		o.seen.add(nc.since(before[n]))
	}
	for _, n := range c.nodes {
		o.luredLines = append(o.luredLines, luredLogLines(n.proc.Log())...)
	}
	o.beaconsSent = st.beaconsSent()
	o.replaysSent = st.beacons[beaconReplay].Load()
	o.brotliSent, o.brotliAnswered = st.brotliSent.Load(), st.brotliAnswered.Load()
	o.lured, o.luredSecret = st.lured.Load(), st.luredSecret.Load()
	return o
}

// verdict is the attacker's part of the SOAK line.
func (o lanOutcome) verdict() string {
	return fmt.Sprintf("lan_beacons=%d lan_beacons_dropped=%.0f lan_beacons_taken=%d handshakes_refused=%.0f healthz_refused=%.0f relay_secret_seen=%d",
		o.beaconsSent, o.seen.beacons["bad_mac"]+o.seen.beacons["malformed"]+o.seen.beacons["stale"]+o.seen.beacons["over_cap"],
		len(o.luredLines), o.seen.refused, o.seen.healthRefused, o.relaySecretSeen)
}

func printLAN(st *lanStats, o lanOutcome, r *relay) {
	fmt.Println()
	fmt.Println("LAN attacker:")
	var kinds []string
	for k := beaconKind(0); k < beaconKinds; k++ {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, st.beacons[k].Load()))
	}
	fmt.Printf("  beacons sent %d (%s), replays withheld %d (node not settled), send errors %d\n",
		st.beaconsSent(), strings.Join(kinds, " "), st.replaysWithheld.Load(), st.beaconSendErrs.Load())
	fmt.Printf("  real beacons sniffed %d, delivered to the other nodes %d\n", st.captured.Load(), st.forwarded.Load())
	fmt.Printf("  nodes counted beacons: %s; peers taken from the attacker %d; lured dials %d\n",
		formatCounts(o.seen.beacons), len(o.luredLines), o.lured)
	fmt.Printf("  silent connections opened %d, closed by the nodes %d, dial errors %d\n",
		st.silentOpened.Load(), st.silentClosedByNode.Load(), st.silentDialErrs.Load())
	fmt.Printf("  compressed pre-auth frames sent %d, closed by the nodes %d, answered %d, dial errors %d\n",
		st.brotliSent.Load(), st.brotliClosedByNode.Load(), st.brotliAnswered.Load(), st.brotliDialErrs.Load())
	fmt.Printf("  nodes counted handshakes refused: metrics %.0f (%s), healthz %.0f; counter readings failed %d\n",
		o.seen.refused, formatCounts(o.seen.refusedBy), o.seen.healthRefused, o.counterReadFailures)
	fmt.Printf("  relay soak-0→soak-1: %d connections (%d dial errors), %d bytes up, %d down, cluster secret seen %d times\n",
		r.conns.Load(), r.dialErrs.Load(), r.bytesUp.Load(), r.bytesDown.Load(), r.secretSeen.Load())
}
