package udp

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/domain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Everything stays on loopback: nodes bind the loopback broadcast address
// and broadcast to it, so every socket on the shared port hears every beacon.
const loopbackBroadcast = "127.255.255.255"

const (
	testInterval = 50 * time.Millisecond
	testExpiry   = 300 * time.Millisecond
	waitFor      = 5 * time.Second
	tick         = 10 * time.Millisecond
)

// freeUDPPort returns a loopback UDP port nobody is bound to right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func newNode(t *testing.T, id, token string, udpPort, tcpPort int, tweak ...func(*Options)) *Discovery {
	t.Helper()
	opts := Options{
		NodeID: id, AuthToken: token, TCPPort: tcpPort, UDPPort: udpPort,
		BindAddress: loopbackBroadcast, BroadcastAddress: loopbackBroadcast,
		Interval: testInterval, Expiry: testExpiry, Interests: []string{"users"},
	}
	for _, f := range tweak {
		f(&opts)
	}
	d, err := NewDiscovery(opts, zaptest.NewLogger(t))
	require.NoError(t, err)
	return d
}

func start(t *testing.T, d *Discovery) {
	t.Helper()
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, d.Stop(context.Background())) })
}

func peerIDs(d *Discovery) []string {
	var ids []string
	for _, p := range d.Peers() {
		ids = append(ids, p.NodeID)
	}
	return ids
}

func TestDiscoveryFindsClusterPeers(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "secret", port, 5001)
	b := newNode(t, "node-b", "secret", port, 5002)
	c := newNode(t, "node-c", "secret", port, 5003)
	stranger := newNode(t, "node-x", "other-secret", port, 5009)
	for _, d := range []*Discovery{a, b, c, stranger} {
		start(t, d)
	}

	require.Eventually(t, func() bool {
		return assert.ObjectsAreEqual([]string{"node-b", "node-c"}, peerIDs(a)) &&
			assert.ObjectsAreEqual([]string{"node-a", "node-c"}, peerIDs(b)) &&
			assert.ObjectsAreEqual([]string{"node-a", "node-b"}, peerIDs(c))
	}, waitFor, tick, "a=%v b=%v c=%v", peerIDs(a), peerIDs(b), peerIDs(c))

	peers := a.Peers()
	assert.Equal(t, "127.0.0.1:5002", peers[0].Address, "source IP of the datagram plus its tcp_port")
	assert.Equal(t, domain.PeerDiscovered, peers[0].Source)
	assert.Equal(t, []string{"users"}, peers[0].Interests)
	assert.InDelta(t, time.Now().UnixMilli(), peers[0].LastSeen, float64(waitFor.Milliseconds()))

	// The stranger hears everyone but keeps nobody, and nobody keeps it.
	assert.Empty(t, stranger.Peers())
	assert.NotContains(t, peerIDs(a), "node-x")
	// The counters move as beacons arrive: the peer sets above can be
	// complete before the stranger's first beacon (or its own echo) lands.
	require.Eventually(t, func() bool {
		st := stranger.Stats()
		return st.DroppedBadMAC > 0 && st.IgnoredSelf > 0 && a.Stats().Sent > 0 && a.Stats().DroppedBadMAC > 0
	}, waitFor, tick, "stranger %+v, a %+v", stranger.Stats(), a.Stats())
	assert.Empty(t, stranger.Peers())
}

func TestDiscoveryExpiresStoppedPeer(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "", port, 5001)
	b := newNode(t, "node-b", "", port, 5002)
	start(t, a)
	require.NoError(t, b.Start(context.Background()))
	require.Eventually(t, func() bool { return len(a.Peers()) == 1 }, waitFor, tick)

	require.NoError(t, b.Stop(t.Context()))
	assert.False(t, b.Running())
	assert.Empty(t, b.Peers(), "a stopped node forgets its peers")
	stoppedAt := time.Now()
	require.Eventually(t, func() bool { return len(a.Peers()) == 0 }, waitFor, tick)
	assert.GreaterOrEqual(t, time.Since(stoppedAt), testExpiry-2*testInterval, "forgotten only after the expiry")
}

// A newcomer is answered at once, not an interval later.
func TestDiscoveryAnnouncesToNewPeerImmediately(t *testing.T) {
	port := freeUDPPort(t)
	slow := func(o *Options) { o.Interval, o.Expiry = time.Hour, 3*time.Hour }
	a := newNode(t, "node-a", "k", port, 5001, slow)
	b := newNode(t, "node-b", "k", port, 5002, slow)
	start(t, a)
	start(t, b) // b's first beacon makes a answer right away
	require.Eventually(t, func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 }, waitFor, tick)
}

func TestDiscoveryWaitsForTCPPort(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "k", port, 5001)
	late := newNode(t, "node-late", "k", port, 0)
	start(t, a)
	start(t, late)
	require.Eventually(t, func() bool { return len(late.Peers()) == 1 }, waitFor, tick)
	assert.Zero(t, late.Stats().Sent, "no beacon with port 0")
	assert.Empty(t, a.Peers())

	late.SetTCPPort(6000)
	require.Eventually(t, func() bool {
		p := a.Peers()
		return len(p) == 1 && p[0].Address == "127.0.0.1:6000"
	}, waitFor, tick)
}

func TestDiscoveryCountsInvalidDatagrams(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "k", port, 5001)
	start(t, a)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer conn.Close()
	to := &net.UDPAddr{IP: net.ParseIP(loopbackBroadcast), Port: port}
	for _, junk := range []string{"", "{", `{"node_id":"x"}`, `{"node_id":"x","tcp_port":0}`, "\xff\xfe"} {
		_, err := conn.WriteToUDP([]byte(junk), to)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return a.Stats().DroppedMalformed >= 5 }, waitFor, tick)
	assert.Empty(t, a.Peers())
}

func TestDiscoveryStaticPeers(t *testing.T) {
	d, err := NewDiscovery(Options{
		NodeID: "n", Disabled: true, StaticPeers: []string{"10.0.0.5:5000", "peer.example:7000"},
	}, nil)
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	assert.False(t, d.Running(), "disabled: no socket")
	assert.Equal(t, []domain.Peer{
		{Address: "10.0.0.5:5000", Source: domain.PeerStatic},
		{Address: "peer.example:7000", Source: domain.PeerStatic},
	}, d.Peers())
	require.NoError(t, d.Stop(t.Context()))

	// A discovered peer at a static address replaces the static entry.
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "k", port, 5001, func(o *Options) { o.StaticPeers = []string{"127.0.0.1:5002", "192.0.2.1:5000"} })
	b := newNode(t, "node-b", "k", port, 5002)
	start(t, a)
	start(t, b)
	require.Eventually(t, func() bool { return len(a.Peers()) == 2 && a.Peers()[0].NodeID == "node-b" }, waitFor, tick)
	assert.Equal(t, "192.0.2.1:5000", a.Peers()[1].Address)

	// Static peers never expire.
	require.NoError(t, b.Stop(t.Context()))
	require.Eventually(t, func() bool { return len(a.Peers()) == 2 && a.Peers()[0].Source == domain.PeerStatic }, waitFor, tick)
}

func TestNewDiscoveryReportsEveryProblem(t *testing.T) {
	_, err := NewDiscovery(Options{
		UDPPort: 70000, TCPPort: -1, BindAddress: "nowhere", BroadcastAddress: "256.0.0.1",
		StaticPeers: []string{"no-port", ":5000", "h:0"},
	}, nil)
	require.Error(t, err)
	assert.Equal(t, domain.CodeConfig, domain.CodeOf(err))
	for _, want := range []string{"node id", "tcp port", "udp port", "bind address", "broadcast address", `"no-port"`, `":5000"`, `"h:0"`} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestStartTwiceAndBindConflict(t *testing.T) {
	port := freeUDPPort(t)
	a := newNode(t, "node-a", "k", port, 5001)
	start(t, a)
	assert.Error(t, a.Start(context.Background()))
	assert.Equal(t, loopbackBroadcast+":"+strconv.Itoa(port), a.LocalAddr().String())

	// A socket without SO_REUSEPORT on the port makes Start fail cleanly.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	busy := newNode(t, "node-b", "k", pc.LocalAddr().(*net.UDPAddr).Port, 5002, func(o *Options) { o.BindAddress = "127.0.0.1" })
	err = busy.Start(context.Background())
	require.Error(t, err)
	assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	assert.False(t, busy.Running())
	require.NoError(t, busy.Stop(t.Context()))
}

func TestDirectedBroadcast(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.10/24": "192.168.1.255",
		"10.1.2.3/8":      "10.255.255.255",
		"172.16.5.4/20":   "172.16.15.255",
	} {
		_, ipn, err := net.ParseCIDR(in)
		require.NoError(t, err)
		ip, _, _ := net.ParseCIDR(in)
		ipn.IP = ip
		got, ok := directedBroadcast(ipn)
		require.True(t, ok, in)
		assert.Equal(t, netip.MustParseAddr(want), got, in)
	}
	_, v6, _ := net.ParseCIDR("fe80::1/64")
	_, ok := directedBroadcast(v6)
	assert.False(t, ok)
}

// What no beacon can carry is refused at construction, not at the first send.
func TestNewDiscoveryRefusesWhatNoBeaconCarries(t *testing.T) {
	for name, o := range map[string]Options{
		"node id":   {NodeID: strings.Repeat("n", 129), UDPPort: 1},
		"interests": {NodeID: "n", UDPPort: 1, Interests: []string{strings.Repeat("c", 65)}},
	} {
		_, err := NewDiscovery(o, nil)
		assert.Equal(t, domain.CodeConfig, domain.CodeOf(err), name)
	}
	d := newNode(t, "node-a", "k", 1, 5001)
	d.SetInterests(make([]string, 33))
	assert.Nil(t, d.interests, "too many to announce: announced as all")
}

// PeersChanged fires when a peer appears (first heard, or heard again after
// it expired) and when it expires, never when a known peer is merely heard
// again.
func TestPeersChangedFiresWhenAPeerAppears(t *testing.T) {
	d := newNode(t, "node-a", "", freeUDPPort(t), 5001)
	src := netip.MustParseAddr("192.0.2.7")
	now := time.Now()
	beacon := mustBeacon(t, protocol.Beacon{NodeID: "node-b", TCPPort: 5002}, "")
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}

	first := d.PeersChanged()
	require.False(t, closed(first), "no peer yet")
	d.handle(beacon, src, now)
	require.True(t, closed(first), "node-b appeared")

	again := d.PeersChanged()
	require.False(t, closed(again), "a new channel for the next appearance")
	d.handle(beacon, src, now.Add(testExpiry/2))
	require.False(t, closed(again), "node-b heard again is no appearance")

	expired := now.Add(testExpiry/2 + testExpiry + time.Millisecond)
	d.expire(expired)
	require.True(t, closed(again), "node-b expired")
	back := d.PeersChanged()
	d.handle(beacon, src, expired)
	require.True(t, closed(back), "node-b back after it expired")
}
