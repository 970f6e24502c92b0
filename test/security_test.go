package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// The black-box tests of issue 14 (trust on the sync plane): each finding of
// the issue replayed as an attacker on the LAN would, against real node
// processes on loopback.

// put writes a document and fails the test unless the node took it.
func (n *testNode) put(collection, key, doc string) {
	n.t.Helper()
	status, body, _ := n.httpDo(http.MethodPut, client.DocPath(collection, key), []byte(doc))
	require.Equal(n.t, http.StatusOK, status, string(body))
}

// A node on defaults (no AuthToken, no opt-in) generates a secret and refuses
// a peer that has none: a Go node of an open cluster gets none of its
// documents, and a v5 client with an empty or a wrong token is refused; every
// refusal is counted in /healthz.
func TestDefaultNodeRefusesKeylessPeer(t *testing.T) {
	a := newSecNode(t, secSpec{NodeID: "closed-a"})
	a.start()
	secret := a.clusterSecret()
	assert.False(t, a.health().OpenCluster)
	a.put("guarded", "k", `{"v":"only for members"}`)
	before := a.refused()

	b := newSecNode(t, secSpec{NodeID: "open-b", Peers: []string{a.PeerAddr()}, Env: []string{openClusterEnv}})
	b.start()
	_, err := os.Stat(b.dataFile("cluster.secret"))
	require.ErrorIs(t, err, fs.ErrNotExist, "b opted in to an open cluster: it keeps no secret")
	assert.True(t, b.health().OpenCluster, "/healthz reports the open cluster b opted in to")
	a.waitRefusedAbove(before, 10*time.Second)
	b.put("open", "k", `{"v":"from a stranger"}`)
	neverWithin(t, 2*time.Second, "a document crossed between a and the keyless node", func() bool {
		return b.has("guarded", "k") || a.has("open", "k")
	})

	for _, token := range []string{"", "not-the-secret"} {
		require.NotEqual(t, secret, token)
		before := a.refused()
		ch, res, err := legacyClient(a.PeerAddr(), "intruder", token)
		if err == nil {
			require.False(t, res.GetAccepted(), "a v5 client with token %q was accepted", token)
			var cs pb.ChangeSetResponse
			err := ch.Call(protocol.PullChangesReq, &pb.PullChangesRequest{}, protocol.ChangeSetRes, &cs)
			require.True(t, err != nil || len(cs.GetEntries()) == 0, "a refused v5 client pulled %d entries", len(cs.GetEntries()))
			ch.Conn().Close()
		}
		a.waitRefusedAbove(before, 5*time.Second)
	}
}

// captures keeps, per connection, what a fake peer received on the wire and
// the frames it could open.
type captures struct {
	mu     sync.Mutex
	wire   []*recorder
	frames []protocol.Frame // opened by the fake (after a completed key exchange)
}

func (c *captures) conn() *recorder {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &recorder{}
	c.wire = append(c.wire, r)
	return r
}

func (c *captures) frame(t protocol.MsgType, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, protocol.Frame{Type: t, Payload: bytes.Clone(payload)})
}

// check fails when anything captured holds the secret or the marker, or is
// a HandshakeReq carrying an auth_token.
func (c *captures) check(t *testing.T, secret, marker string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var all [][]byte
	for i, r := range c.wire {
		wire := r.Bytes()
		all = append(all, wire)
		// Each connection's bytes as frames, as far as they parse (a
		// Noise first message is a frame too; ciphertext after it is not).
		rd := bytes.NewReader(wire)
		for range 1000 {
			f, err := protocol.ReadFrame(rd, protocol.DefaultMaxFrameBytes)
			if err != nil {
				break
			}
			requireNoToken(t, f, fmt.Sprintf("connection %d", i))
		}
	}
	for _, f := range c.frames {
		all = append(all, f.Payload)
		requireNoToken(t, f, "an opened frame")
	}
	for i, b := range all {
		requireNoSecret(t, b, secret, fmt.Sprintf("capture %d", i))
		require.False(t, bytes.Contains(b, []byte(marker)), "a document reached the stranger (capture %d)", i)
	}
}

func requireNoToken(t *testing.T, f protocol.Frame, where string) {
	t.Helper()
	if f.Type != protocol.HandshakeReq || f.Compressed {
		return
	}
	var req pb.HandshakeRequest
	if protocol.DecodeInto(f.Type, protocol.HandshakeReq, f.Payload, &req) == nil {
		require.Empty(t, req.GetAuthToken(), "a HandshakeReq with an auth_token was sent to a stranger (%s)", where)
	}
}

// A node never discloses the secret to a stranger it dials (a static peer
// that is not a member): neither to one that only listens, nor to one that
// completes the family's anonymous P-256 exchange and answers whatever
// follows; nor does any document reach it.
func TestNodeNeverDisclosesSecretToStranger(t *testing.T) {
	for _, tc := range []struct {
		name string
		// completeExchange: the stranger runs the legacy key exchange as
		// a server, opens what follows and accepts the handshake.
		completeExchange bool
	}{
		{"stranger records", false},
		{"stranger completes the legacy key exchange", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var caps captures
			stranger := listen(t, func(conn net.Conn) {
				_ = conn.SetDeadline(time.Now().Add(attackerWait))
				rc := recordingConn{conn, caps.conn()}
				if tc.completeExchange {
					pretendMember(rc, &caps)
				}
				_, _ = io.Copy(io.Discard, rc) // record the rest until the node closes
			})
			n := newSecNode(t, secSpec{NodeID: "dialer", Peers: []string{stranger.addr()}, Secure: tc.completeExchange})
			n.start()
			marker := "for-members-only-" + newToken(t)[:10]
			n.put("private", "doc", fmt.Sprintf(`{"note":%q}`, marker))
			eventually(t, 30*time.Second, "the node to dial the stranger three times", func() bool {
				return stranger.finished.Load() >= 3
			})
			caps.check(t, n.clusterSecret(), marker)
			caps.mu.Lock()
			require.NotEmpty(t, caps.wire[0].Bytes(), "the node spoke first")
			caps.mu.Unlock()
		})
	}
}

// pretendMember is a stranger that completes the anonymous P-256 exchange
// as a server, opens every frame that follows and accepts the handshake,
// recording what it opened.
func pretendMember(conn net.Conn, caps *captures) {
	ch := protocol.NewChannel(conn, 0)
	if ch.SecureAsServer() != nil {
		return
	}
	for range 100 {
		typ, payload, err := ch.Recv()
		if err != nil {
			return
		}
		caps.frame(typ, payload)
		if typ == protocol.HandshakeReq {
			if ch.Send(protocol.HandshakeRes, &pb.HandshakeResponse{NodeId: "stranger", Accepted: true}) != nil {
				return
			}
		}
	}
}

// Two members syncing through a relay that records both directions: they
// sync, and the relay holds neither the secret nor a document.
func TestRelayBetweenNodesLearnsNothing(t *testing.T) {
	secret := newToken(t)
	b := newSecNode(t, secSpec{NodeID: "relay-b", AuthToken: secret})
	b.start()
	r := startRelay(t, b.PeerAddr())
	a := newSecNode(t, secSpec{NodeID: "relay-a", AuthToken: secret, Peers: []string{r.addr()}})
	a.start()

	fromA := "written-on-a-" + newToken(t)[:10]
	fromB := "written-on-b-" + newToken(t)[:10]
	a.put("relayed", "from-a", fmt.Sprintf(`{"note":%q}`, fromA))
	b.put("relayed", "from-b", fmt.Sprintf(`{"note":%q}`, fromB))
	eventually(t, 10*time.Second, "a's document on b, through the relay", func() bool { return b.has("relayed", "from-a") })
	eventually(t, 10*time.Second, "b's document on a, through the relay", func() bool { return a.has("relayed", "from-b") })

	wire := r.wire.Bytes()
	require.NotEmpty(t, wire)
	requireNoSecret(t, wire, secret, "the relayed bytes")
	for _, marker := range []string{fromA, fromB} {
		require.False(t, bytes.Contains(wire, []byte(marker)), "a document crossed the relay in plaintext")
	}
}

// forgedEntry is a put of collection/key by a new author (the first entry
// of its chain), which a member's push would store.
func forgedEntry(collection, key, author string) *pb.ProtoOplogEntry {
	e := domain.Entry{Collection: collection, Key: key, Op: domain.OpPut, Data: []byte(`{"forged":true}`),
		Stamp: domain.Timestamp{Wall: time.Now().UnixMilli(), Node: author}}
	e.Seal("")
	return protocol.EntryToProto(&e)
}

// A peer that holds the secret but presents another node's id with a
// different identity key is refused, and nothing it pushes is stored; the
// same client with that node's real key is accepted (so the refusal is the
// key's, not the client's).
func TestImpostorOfKnownNodeIsRefused(t *testing.T) {
	secret := newToken(t)
	a := newSecNode(t, secSpec{NodeID: "tofu-a", AuthToken: secret})
	b := newSecNode(t, secSpec{NodeID: "tofu-b", AuthToken: secret})
	a.SetPeers([]string{b.PeerAddr()})
	b.SetPeers([]string{a.PeerAddr()})
	a.start()
	b.start()
	b.put("c", "from-b", `{"v":1}`)
	a.put("c", "from-a", `{"v":1}`)
	eventually(t, 10*time.Second, "b's document on a", func() bool { return a.has("c", "from-b") })
	eventually(t, 10*time.Second, "a's document on b", func() bool { return b.has("c", "from-a") })

	before := a.refused()
	ch, res, err := noiseClient(a.PeerAddr(), secret, freshIdentity(t, b.Spec.NodeID))
	if err == nil {
		assert.False(t, res.GetAccepted(), "a accepted %s's node id with another key", b.Spec.NodeID)
		var ack pb.AckResponse
		_ = ch.Call(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: []*pb.ProtoOplogEntry{
			forgedEntry("c", "forged", "impostor-author")}}, protocol.AckRes, &ack)
		ch.Conn().Close()
	} else {
		t.Logf("the impostor's session ended: %v", err)
	}
	a.waitRefusedAbove(before, 5*time.Second)
	neverWithin(t, 2*time.Second, "the impostor's entry stored on a", func() bool { return a.has("c", "forged") })

	ch, res, err = noiseClient(a.PeerAddr(), secret, b.nodeIdentity())
	require.NoError(t, err, "the same client with b's real key")
	defer ch.Conn().Close()
	require.True(t, res.GetAccepted(), "b's real key is accepted")
	var ack pb.AckResponse
	control := newFakeAuthor(t, "control-author", nil).batch(op{"c", "control", `{"forged":true}`})
	require.NoError(t, ch.Call(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: wireEntries(control)},
		protocol.AckRes, &ack))
	require.True(t, ack.GetSuccess())
	eventually(t, 5*time.Second, "the control push stored on a", func() bool { return a.has("c", "control") })
}

// A handshake-sized frame flagged as Brotli whose payload expands to 64 MiB.
func bombFrames(t *testing.T) [][]byte {
	t.Helper()
	bomb := protocol.Compress(make([]byte, 64<<20), 5)
	var frames [][]byte
	for _, typ := range []protocol.MsgType{protocol.HandshakeReq, protocol.NoiseHandshake, protocol.PushChangesReq} {
		f := protocol.AppendFrame(nil, protocol.Frame{Type: typ, Compressed: true, Payload: bomb})
		require.Less(t, len(f), 256, "a bomb is a small frame")
		frames = append(frames, f)
	}
	return frames
}

// peakRSS samples the node's resident memory until stop is closed and
// returns the highest value seen.
func peakRSS(n *testNode, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := n.RSSBytes(); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// 100 compressed frames before any authentication, on 100 connections at
// once, leave the node's RSS within 50 MB of where it was, and the node
// still serves its API and its peers.
func TestCompressedFramesBeforeAuthCostLittle(t *testing.T) {
	const conns, maxGrowth = 100, 50 << 20
	n := newSecNode(t, secSpec{NodeID: "bombed", LogLevel: "Information"})
	n.start()
	frames := bombFrames(t)
	base, err := n.RSSBytes()
	require.NoError(t, err)

	stop := make(chan struct{})
	peak := peakRSS(n, stop)
	var closed atomic.Int64
	var wg sync.WaitGroup
	for i := range conns {
		conn, err := dialSync(n.PeerAddr())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = conn.Write(frames[i%len(frames)])
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if isClosed(conn, 15*time.Second) {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	growth := <-peak - base
	t.Logf("RSS %d MiB before, peak growth %d MiB", base>>20, growth>>20)
	require.Less(t, growth, int64(maxGrowth), "RSS grew by %d MiB", growth>>20)
	require.EqualValues(t, conns, closed.Load(), "the node closed every connection that sent a bomb")

	n.put("still", "serving", `{"v":1}`)
	require.True(t, n.has("still", "serving"))
	peer := newSecNode(t, secSpec{NodeID: "bombed-peer", AuthToken: n.clusterSecret(), Peers: []string{n.PeerAddr()}})
	peer.start()
	eventually(t, 10*time.Second, "the bombed node's document on a peer", func() bool { return peer.has("still", "serving") })
}

// silentHolder keeps n silent connections open to addr from the given
// source addresses, re-opening any the node closes (after a short pause),
// as a persistent attacker would.
type silentHolder struct {
	opened  atomic.Int64 // connections the node accepted, ever
	open    atomic.Int64 // connections open now
	reopens atomic.Int64
}

// maxReopens bounds the re-openings of one slot.
const maxReopens = 300

func holdSilent(t *testing.T, addr string, n int, sources []string) *silentHolder {
	t.Helper()
	h := &silentHolder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		d := net.Dialer{Timeout: attackerWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(sources[i%len(sources)])}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range maxReopens {
				conn, err := d.Dial("tcp", addr)
				if err == nil {
					h.opened.Add(1)
					h.open.Add(1)
					done := make(chan struct{})
					go func() {
						select {
						case <-stop:
							conn.Close()
						case <-done:
						}
					}()
					_, _ = io.Copy(io.Discard, conn) // until the node or stop closes it
					close(done)
					conn.Close()
					h.open.Add(-1)
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				h.reopens.Add(1)
			}
		}()
	}
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
	return h
}

// With 100 silent connections held open (and re-opened when closed) by
// attackers on two other loopback addresses and on the peer's own, a real
// peer still syncs within 5 s.
func TestSilentConnectionsDoNotLockOutPeers(t *testing.T) {
	secret := newToken(t)
	a := newSecNode(t, secSpec{NodeID: "held-a", AuthToken: secret, LogLevel: "Information"})
	a.start()
	h := holdSilent(t, a.PeerAddr(), 100, []string{"127.0.0.66", "127.0.0.67", "127.0.0.1"})
	// Every slot has connected once (a node that sheds silent connections
	// never has all 100 open at the same time).
	eventually(t, 10*time.Second, "100 silent connections opened", func() bool { return h.opened.Load() >= 100 })

	b := newSecNode(t, secSpec{NodeID: "held-b", AuthToken: secret, Peers: []string{a.PeerAddr()}, LogLevel: "Information"})
	b.start()
	b.put("c", "through", `{"v":1}`)
	eventually(t, 5*time.Second, "b's document on a past the silent connections", func() bool { return a.has("c", "through") })
	a.put("c", "back", `{"v":2}`)
	eventually(t, 5*time.Second, "a's document on b past the silent connections", func() bool { return b.has("c", "back") })
	t.Logf("silent connections open at the end: %d, re-opened: %d", h.open.Load(), h.reopens.Load())
}

// listenBeacons binds the nodes' discovery port beside them (as another
// process on the host could) to capture their beacons.
func listenBeacons(t *testing.T, port int) *net.UDPConn {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	return pc.(*net.UDPConn)
}

// captureBeacons reads up to n datagrams within within.
func captureBeacons(t *testing.T, pc *net.UDPConn, n int, within time.Duration) [][]byte {
	t.Helper()
	_ = pc.SetReadDeadline(time.Now().Add(within))
	var out [][]byte
	buf := make([]byte, 2048)
	for len(out) < n {
		m, _, err := pc.ReadFromUDP(buf)
		if err != nil {
			break
		}
		out = append(out, bytes.Clone(buf[:m]))
	}
	return out
}

// flood sends rate beacons a second for d from src to the loopback
// broadcast address on port: forged beacons (no tag, or a tag under a
// guessed key) of ghost nodes at a closed port, and replays of captured
// ones. It returns how many it sent.
func flood(src string, port, rate int, d time.Duration, replays [][]byte) (int, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	closedPort, err := nodeproc.FreePort()
	if err != nil {
		return 0, err
	}
	guessed, err := protocol.DeriveBeaconKey([]byte("guessed-secret"))
	if err != nil {
		return 0, err
	}
	to := &net.UDPAddr{IP: net.ParseIP("127.255.255.255"), Port: port}
	const tick = 10 * time.Millisecond
	perTick := rate * int(tick) / int(time.Second)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	sent := 0
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); {
		for range perTick {
			var msg []byte
			if len(replays) > 0 && i%6 == 0 {
				msg = replays[i%len(replays)]
			} else {
				key := guessed
				if i%2 == 0 {
					key = nil
				}
				b := protocol.Beacon{NodeID: fmt.Sprintf("ghost-%d", i), TCPPort: closedPort, SentAt: time.Now().UnixMilli()}
				if msg, err = b.Marshal(key); err != nil {
					return sent, err
				}
			}
			if _, err := conn.WriteToUDP(msg, to); err == nil {
				sent++
			}
			i++
		}
		<-ticker.C
	}
	return sent, nil
}

// Two nodes that found each other by discovery on loopback keep replicating
// (a write reaches the other node within 1 s) while another loopback address
// sends them 600 fake beacons a second; no ghost enters their peer tables.
func TestBeaconFloodDoesNotStopReplication(t *testing.T) {
	const rate, floodFor = 600, 4 * time.Second
	secret := newToken(t)
	// Discovery on loopback: the UDP socket must be bound to the wildcard
	// address to hear 127.255.255.255 (TestServeOnDefaults does the same);
	// every datagram and connection stays on loopback.
	env := []string{"ENTGLDB__NETWORK__ENABLEDISCOVERY=true", "ENTGLDB__NETWORK__BINDADDRESS=0.0.0.0",
		"ENTGLDB__NETWORK__BROADCASTADDRESS=127.255.255.255"}
	a := newSecNode(t, secSpec{NodeID: "lan-a", AuthToken: secret, Env: env, LogLevel: "Information"})
	b := newSecNode(t, secSpec{NodeID: "lan-b", AuthToken: secret, Env: env, LogLevel: "Information"})
	b.UDPPort = a.UDPPort
	beacons := listenBeacons(t, a.UDPPort)
	// Bound to the wildcard address, a node's TCP port can collide with a
	// port another package's test holds on 127.0.0.1: pick again then.
	for _, n := range []*testNode{a, b} {
		require.NoError(t, n.StartOnFreshPorts(context.Background(), readyWithin, 3))
	}
	knows := func(n *testNode, id string) bool {
		peers, err := n.Client().Peers(context.Background())
		if err != nil {
			return false
		}
		for _, p := range peers {
			if p.NodeID == id {
				return true
			}
		}
		return false
	}
	eventually(t, 20*time.Second, "a and b to discover each other", func() bool {
		return knows(a, "lan-b") && knows(b, "lan-a")
	})
	a.put("lan", "before", `{"v":0}`)
	eventually(t, 5*time.Second, "a's first document on b", func() bool { return b.has("lan", "before") })
	replays := captureBeacons(t, beacons, 4, 15*time.Second)
	require.NotEmpty(t, replays, "captured the nodes' beacons")

	type result struct {
		sent int
		err  error
	}
	floodDone := make(chan result, 1)
	go func() {
		sent, err := flood("127.0.0.66", a.UDPPort, rate, floodFor, replays)
		floodDone <- result{sent, err}
	}()
	floodEnd := time.Now().Add(floodFor)
	// The capture socket shares the nodes' port, so what it hears of the
	// flood reached them too.
	heard := make(chan int, 1)
	go func() {
		_ = beacons.SetReadDeadline(floodEnd.Add(time.Second))
		n, buf := 0, make([]byte, 2048)
		for {
			_, from, err := beacons.ReadFromUDP(buf)
			if err != nil {
				heard <- n
				return
			}
			if from.IP.Equal(net.ParseIP("127.0.0.66")) {
				n++
			}
		}
	}()
	for i, pair := range [][2]*testNode{{a, b}, {b, a}, {a, b}} {
		from, to := pair[0], pair[1]
		key := fmt.Sprintf("during-%d", i)
		from.put("lan", key, fmt.Sprintf(`{"v":%d}`, i+1))
		eventually(t, time.Second, fmt.Sprintf("%s's write %s on %s during the flood", from.Spec.NodeID, key, to.Spec.NodeID),
			func() bool { return to.has("lan", key) })
		require.True(t, time.Now().Before(floodEnd), "the write landed while the flood was on")
	}
	res := <-floodDone
	require.NoError(t, res.err)
	require.GreaterOrEqual(t, res.sent, rate*int(floodFor/time.Second)*9/10, "the flood kept its rate")
	require.GreaterOrEqual(t, <-heard, res.sent*9/10, "the flood reached the discovery port")
	for _, n := range []*testNode{a, b} {
		peers, err := n.Client().Peers(context.Background())
		require.NoError(t, err)
		for _, p := range peers {
			require.False(t, strings.HasPrefix(p.NodeID, "ghost-"), "%s admitted %s at %s", n.Spec.NodeID, p.NodeID, p.Address)
			require.False(t, strings.HasPrefix(p.Address, "127.0.0.66:"), "%s moved %s to the attacker", n.Spec.NodeID, p.NodeID)
		}
	}
}
