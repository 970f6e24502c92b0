package udp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/adapters/protocol"
)

// An attacker on the LAN, played from other loopback addresses than the
// nodes' 127.0.0.1, so per-source limits tell them apart.
var attackers = []netip.Addr{
	netip.MustParseAddr("127.0.0.66"), netip.MustParseAddr("127.0.0.67"), netip.MustParseAddr("127.0.0.68"),
}

const (
	floodRate     = 600 // beacons a second, as in the issue
	floodDuration = 1500 * time.Millisecond
	// Slow enough that a loaded machine does not expire the real peer.
	hostileInterval = 200 * time.Millisecond
	hostileExpiry   = 3 * time.Second
)

func hostile(o *Options) { o.Interval, o.Expiry = hostileInterval, hostileExpiry }

// observedNode is newNode with its Info+ log lines recorded.
func observedNode(t *testing.T, id, token string, udpPort, tcpPort int, tweak ...func(*Options)) (*Discovery, *observer.ObservedLogs) {
	t.Helper()
	d := newNode(t, id, token, udpPort, tcpPort, tweak...)
	core, logs := observer.New(zapcore.InfoLevel)
	d.logger = zap.New(core)
	return d, logs
}

func mustBeacon(t *testing.T, b protocol.Beacon, secret string) []byte {
	t.Helper()
	key, err := protocol.DeriveBeaconKey([]byte(secret))
	require.NoError(t, err)
	dg, err := b.Marshal(key)
	require.NoError(t, err)
	return dg
}

// flood sends beacon(i) for i in [0, floodRate*floodDuration) to the
// nodes' port, from srcs in turn, at floodRate a second in batches every
// 10 ms, and calls check after each batch. It returns how many it sent.
func flood(t *testing.T, srcs []netip.Addr, port int, beacon func(i int) []byte, check func()) int {
	t.Helper()
	conns := make([]*net.UDPConn, len(srcs))
	for i, src := range srcs {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		require.NoError(t, err)
		defer conn.Close()
		conns[i] = conn
	}
	to := &net.UDPAddr{IP: net.ParseIP(loopbackBroadcast), Port: port}
	const batchEvery = 10 * time.Millisecond
	total := int(floodRate * floodDuration / time.Second)
	perBatch := floodRate * int(batchEvery) / int(time.Second)
	tk := time.NewTicker(batchEvery)
	defer tk.Stop()
	deadline := time.Now().Add(2 * floodDuration) // a starved sender stops anyway
	sent := 0
	for sent < total && time.Now().Before(deadline) {
		for range perBatch {
			_, err := conns[sent%len(conns)].WriteToUDP(beacon(sent), to)
			require.NoError(t, err)
			sent++
		}
		check()
		<-tk.C
	}
	require.Greater(t, sent, total/2, "the flood ran")
	return sent
}

// maxBroadcasts bounds what a node may send in elapsed: one beacon per
// interval and one out-of-turn per re-announce gap, each rounded up.
func maxBroadcasts(elapsed time.Duration) uint64 {
	gap := min(hostileInterval, maxReannounceGap)
	return uint64(elapsed/hostileInterval+1) + uint64(elapsed/gap+1)
}

// The finding, on a closed cluster: fake beacons (a wrong key, no
// tag, the old JSON with the old cluster hash) neither enter the table nor
// make the node broadcast or log per datagram; the real peer stays.
func TestForgedBeaconFloodCostsNothing(t *testing.T) {
	port := freeUDPPort(t)
	a, logs := observedNode(t, "node-a", "secret", port, 5001, hostile)
	b := newNode(t, "node-b", "secret", port, 5002, hostile)
	start(t, a)
	start(t, b)
	require.Eventually(t, func() bool { return slices.Equal(peerIDs(a), []string{"node-b"}) }, waitFor, tick)

	before, began := a.Stats(), time.Now()
	linesBefore := logs.Len()
	legacyHash := protocol.ClusterHash("secret")
	fakes := []func(i int) []byte{
		func(i int) []byte {
			return mustBeacon(t, protocol.Beacon{NodeID: "fake-" + strconv.Itoa(i), TCPPort: 9, SentAt: time.Now().UnixMilli()}, "guess")
		},
		func(i int) []byte {
			return mustBeacon(t, protocol.Beacon{NodeID: "fake-" + strconv.Itoa(i), TCPPort: 9, SentAt: time.Now().UnixMilli()}, "")
		},
		func(i int) []byte {
			return fmt.Appendf(nil, `{"node_id":"fake-%d","tcp_port":9,"cluster_hash":%q,"interests":[]}`, i, legacyHash)
		},
	}
	lost := 0
	sent := flood(t, attackers[:1], port, func(i int) []byte { return fakes[i%len(fakes)](i) }, func() {
		if !slices.Equal(peerIDs(a), []string{"node-b"}) {
			lost++
		}
	})
	assert.Zero(t, lost, "the real peer left the table, or a fake entered it")

	require.Eventually(t, func() bool { return a.Stats().Received-before.Received >= uint64(sent/2) }, waitFor, tick,
		"most of the flood reached the node: %+v", a.Stats())
	after, elapsed := a.Stats(), time.Since(began)
	assert.Positive(t, after.DroppedBadMAC-before.DroppedBadMAC, "forged and untagged beacons fail the MAC")
	assert.Positive(t, after.DroppedMalformed-before.DroppedMalformed, "the old JSON beacon is not a beacon any more")
	assert.Zero(t, after.DroppedOverCap, "no fake got as far as the table")
	assert.LessOrEqual(t, after.Sent-before.Sent, maxBroadcasts(elapsed), "broadcasts in %v", elapsed)
	assert.Equal(t, []string{"node-b"}, peerIDs(a))
	assert.LessOrEqual(t, logs.Len()-linesBefore, 1, "at most one summary line: %v", logs.All())
}

// On an open cluster anybody can announce a peer: the table stays capped,
// one source cannot crowd out another, and the node's own broadcasts stay
// bounded while hundreds of new ids arrive.
func TestOpenClusterFloodIsBounded(t *testing.T) {
	const maxPeers, perSource = 16, 6
	port := freeUDPPort(t)
	limits := func(o *Options) { o.MaxPeers, o.MaxPeersPerSource = maxPeers, perSource }
	a := newNode(t, "node-a", "", port, 5001, hostile, limits)
	b := newNode(t, "node-b", "", port, 5002, hostile)
	start(t, a)
	start(t, b)
	require.Eventually(t, func() bool { return slices.Equal(peerIDs(a), []string{"node-b"}) }, waitFor, tick)

	// Each source announces the same 50 ids over and over, keeping those
	// that got in alive.
	fake := func(srcs []netip.Addr) func(i int) []byte {
		return func(i int) []byte {
			src := srcs[i%len(srcs)]
			id := fmt.Sprintf("fake-%s-%d", src, i/len(srcs)%50)
			return mustBeacon(t, protocol.Beacon{NodeID: id, TCPPort: 9}, "")
		}
	}
	before, began := a.Stats(), time.Now()
	lost := 0
	sent := flood(t, attackers[:1], port, fake(attackers[:1]), func() {
		if !slices.Contains(peerIDs(a), "node-b") {
			lost++
		}
	})
	require.Eventually(t, func() bool { return a.Stats().Received-before.Received >= uint64(sent/2) }, waitFor, tick)
	after, elapsed := a.Stats(), time.Since(began)
	assert.Zero(t, lost, "the real peer kept its place")
	assert.Len(t, a.Peers(), 1+perSource)
	assert.Positive(t, after.DroppedOverCap)
	assert.LessOrEqual(t, after.Sent-before.Sent, maxBroadcasts(elapsed), "broadcasts in %v", elapsed)

	// From several sources the table itself is the bound.
	flood(t, attackers, port, fake(attackers), func() {})
	require.Eventually(t, func() bool { return len(a.Peers()) == maxPeers }, waitFor, tick)
	a.mu.Lock()
	assert.Len(t, a.peers, maxPeers)
	for _, src := range attackers {
		assert.LessOrEqual(t, a.peers.fromSource(src), perSource, src)
	}
	a.mu.Unlock()
	assert.Contains(t, peerIDs(a), "node-b", "a known peer still refreshes in a full table")
}

// Many newcomers at once: one out-of-turn beacon per gap, not one each.
func TestNewcomersDoNotMakeTheNodeFlood(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "", port, 5001, hostile, func(o *Options) { o.MaxPeers, o.MaxPeersPerSource = 2000, 2000 })
	start(t, a)
	before, began := a.Stats(), time.Now()
	sent := flood(t, attackers[:1], port, func(i int) []byte {
		return mustBeacon(t, protocol.Beacon{NodeID: "new-" + strconv.Itoa(i), TCPPort: 9}, "")
	}, func() {})
	require.Eventually(t, func() bool { return a.Stats().Accepted-before.Accepted >= uint64(sent/2) }, waitFor, tick)
	elapsed := time.Since(began)
	assert.LessOrEqual(t, a.Stats().Sent-before.Sent, maxBroadcasts(elapsed), "broadcasts in %v for %d newcomers", elapsed, a.Stats().Accepted)
}

// A real beacon captured on the LAN and sent again, from elsewhere, neither
// moves the peer nor refreshes it.
func TestReplayedRealBeaconIsDropped(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "secret", port, 5001, hostile)
	b := newNode(t, "node-b", "secret", port, 5002, hostile)

	// The eavesdropper shares the port as every node does.
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(context.Background(), "udp4", net.JoinHostPort(loopbackBroadcast, strconv.Itoa(port)))
	require.NoError(t, err)
	defer pc.Close()
	start(t, a)
	start(t, b)

	key, err := protocol.DeriveBeaconKey([]byte("secret"))
	require.NoError(t, err)
	buf := make([]byte, maxDatagram)
	var captured []byte
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(waitFor)))
	for range 100 {
		n, _, err := pc.ReadFrom(buf)
		require.NoError(t, err)
		if got, err := protocol.ParseBeacon(buf[:n], key); err == nil && got.NodeID == "node-b" {
			captured = slices.Clone(buf[:n])
			break
		}
	}
	require.NotNil(t, captured, "no beacon of node-b heard")
	require.Eventually(t, func() bool { return slices.Equal(peerIDs(a), []string{"node-b"}) }, waitFor, tick)

	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(attackers[0], 0)))
	require.NoError(t, err)
	defer conn.Close()
	staleBefore := a.Stats().DroppedStale
	_, err = conn.WriteToUDP(captured, &net.UDPAddr{IP: net.ParseIP(loopbackBroadcast), Port: port})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.Stats().DroppedStale > staleBefore }, waitFor, tick)
	assert.Equal(t, "127.0.0.1:5002", a.Peers()[0].Address, "the replay did not move node-b to the attacker")
}

// Replay state outlives the peer: after node-b expires, its last beacon is
// still refused until the freshness window is past, and then the window
// refuses it. Driven through handle with a chosen clock.
func TestReplayRefusedAcrossExpiry(t *testing.T) {
	d := newNode(t, "node-a", "secret", 1, 5001, func(o *Options) {
		o.Interval, o.Expiry, o.Freshness = time.Second, 3*time.Second, 30*time.Second
	})
	t0 := time.UnixMilli(1_760_000_000_000)
	src := netip.MustParseAddr("192.0.2.7")
	beacon := func(at time.Time) []byte {
		return mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5002, SentAt: at.UnixMilli()}, "secret")
	}
	first := beacon(t0)

	d.handle(first, src, t0)
	require.Equal(t, uint64(1), d.Stats().Accepted)
	d.handle(first, attackers[0], t0.Add(time.Second))
	assert.Equal(t, uint64(1), d.Stats().DroppedStale, "the same beacon again")

	later := t0.Add(10 * time.Second)
	d.expire(later)
	d.mu.Lock()
	require.Contains(t, d.peers, "node-b", "remembered for replays")
	d.mu.Unlock()
	d.handle(first, attackers[0], later)
	assert.Equal(t, uint64(2), d.Stats().DroppedStale, "replayed after the peer expired")

	gone := t0.Add(31 * time.Second)
	d.expire(gone)
	d.mu.Lock()
	assert.NotContains(t, d.peers, "node-b", "forgotten once its stamp is out of the window")
	d.mu.Unlock()
	d.handle(first, attackers[0], gone)
	assert.Equal(t, uint64(3), d.Stats().DroppedStale, "now too old")

	d.handle(beacon(gone.Add(31*time.Second)), src, gone)
	assert.Equal(t, uint64(4), d.Stats().DroppedStale, "stamped too far ahead")
	d.handle(beacon(gone), src, gone)
	assert.Equal(t, uint64(2), d.Stats().Accepted, "a fresh beacon is welcome back")
	assert.Equal(t, uint64(0), d.Stats().DroppedBadMAC)

	d.handle(mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5002, SentAt: gone.UnixMilli() + 1}, "guess"), src, gone)
	assert.Equal(t, uint64(1), d.Stats().DroppedBadMAC, "a forged beacon with a wrong key")
}

// An open cluster has nothing to order beacons by: stamps are not checked,
// as before authenticated beacons.
func TestOpenClusterIgnoresStamps(t *testing.T) {
	d := newNode(t, "node-a", "", 1, 5001)
	now := time.Now()
	old := mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5002, SentAt: 1}, "")
	d.handle(old, netip.MustParseAddr("192.0.2.7"), now)
	d.handle(old, netip.MustParseAddr("192.0.2.7"), now)
	assert.Equal(t, uint64(2), d.Stats().Accepted)
	assert.Zero(t, d.Stats().DroppedStale)
	d.handle(mustBeacon(t, protocol.Beacon{NodeID: "node-c", TCPPort: 5002}, "secret"), netip.MustParseAddr("192.0.2.7"), now)
	assert.Equal(t, uint64(1), d.Stats().DroppedBadMAC, "a closed cluster's beacon")
}

// A peer made to flap between addresses (anyone can, on an open cluster)
// costs one log line per expiry, not one per beacon; it still moves.
func TestAddressFlappingLogsOncePerExpiry(t *testing.T) {
	d, logs := observedNode(t, "node-a", "", 1, 5001)
	now := time.Now()
	src := netip.MustParseAddr("192.0.2.7")
	for i := range 100 {
		d.handle(mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5000 + i%2}, ""), src, now)
	}
	assert.Equal(t, 1, logs.FilterMessage("peer discovered").Len())
	assert.Equal(t, 1, logs.FilterMessage("peer address changed").Len())
	assert.Equal(t, "192.0.2.7:5001", d.Peers()[0].Address)
	d.handle(mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5002}, ""), src, now.Add(testExpiry/2))
	d.handle(mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5003}, ""), src, now.Add(testExpiry+time.Millisecond))
	assert.Equal(t, 2, logs.FilterMessage("peer address changed").Len(), "reported again an expiry later")
}
