package tcp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testKey    = "cluster-key"
	serverNode = "server-node"
	clientNode = "client-node"
)

// fakeHandler answers with fixed data and records what it was asked.
type fakeHandler struct {
	mu       sync.Mutex
	peers    []ports.PeerInfo
	pulls    []ports.PullRequest
	pushed   []domain.Entry
	ranges   [][2]string
	snapshot domain.Snapshot
	// block, when set, makes GetClock wait for it to close (for shutdown tests).
	block   chan struct{}
	entered chan struct{}
	fail    error
	// pull, when set, is what PullChanges returns (default testEntries(3)).
	pull []domain.Entry
}

var (
	testClock = domain.Timestamp{Wall: 1764000000123, Logical: 7, Node: "author-a"}
	testVC    = domain.VectorClock{
		"author-a": {Wall: 1764000000123, Logical: 7, Node: "author-a"},
		"author-b": {Wall: 1764000000001, Logical: 0, Node: "author-b"},
	}
)

func testEntries(n int) []domain.Entry {
	out := make([]domain.Entry, n)
	prev := ""
	for i := range out {
		e := domain.Entry{
			Collection: "users",
			Key:        "u" + strconv.Itoa(i),
			Op:         domain.OpPut,
			Data:       []byte(`{"name":"x","i":` + strconv.Itoa(i) + `}`),
			Stamp:      domain.Timestamp{Wall: 1764000000000 + int64(i), Node: "author-a"},
		}
		if i == n-1 && n > 1 {
			e.Op, e.Data = domain.OpDelete, nil
		}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}

func (h *fakeHandler) record(p ports.PeerInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.peers = append(h.peers, p)
}

func (h *fakeHandler) lastPeer() ports.PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[len(h.peers)-1]
}

func (h *fakeHandler) GetClock(ctx context.Context, p ports.PeerInfo) (domain.Timestamp, error) {
	h.record(p)
	if h.block != nil {
		close(h.entered)
		select {
		case <-h.block:
		case <-ctx.Done():
			return domain.Timestamp{}, ctx.Err()
		}
	}
	if h.fail != nil {
		return domain.Timestamp{}, h.fail
	}
	return testClock, nil
}

func (h *fakeHandler) PullChanges(_ context.Context, p ports.PeerInfo, req ports.PullRequest) ([]domain.Entry, error) {
	h.record(p)
	h.mu.Lock()
	h.pulls = append(h.pulls, req)
	h.mu.Unlock()
	if h.pull != nil {
		return h.pull, nil
	}
	return testEntries(3), nil
}

func (h *fakeHandler) PushChanges(_ context.Context, p ports.PeerInfo, entries []domain.Entry) (bool, error) {
	h.record(p)
	h.mu.Lock()
	h.pushed = append(h.pushed, entries...)
	h.mu.Unlock()
	return len(entries) > 100, nil
}

func (h *fakeHandler) GetVectorClock(_ context.Context, p ports.PeerInfo) (domain.VectorClock, error) {
	h.record(p)
	return testVC, nil
}

func (h *fakeHandler) GetChainRange(_ context.Context, p ports.PeerInfo, start, end string) ([]domain.Entry, bool, error) {
	h.record(p)
	h.mu.Lock()
	h.ranges = append(h.ranges, [2]string{start, end})
	h.mu.Unlock()
	return testEntries(2), start == "pruned", nil
}

func (h *fakeHandler) GetSnapshot(_ context.Context, p ports.PeerInfo) (domain.Snapshot, error) {
	h.record(p)
	return h.snapshot, nil
}

// bigSnapshot needs several chunks on the wire.
func bigSnapshot() domain.Snapshot {
	sn := domain.Snapshot{Heads: map[string]string{"n1": "h1"},
		VectorClock: map[string]domain.Timestamp{"n1": {Wall: 5000, Node: "n1"}}}
	for i := range 5000 {
		sn.Documents = append(sn.Documents, domain.Document{Collection: "users", Key: fmt.Sprintf("u%d", i),
			Data: []byte(`{"name":"someone"}`), Stamp: domain.Timestamp{Wall: int64(i + 1), Node: "n1"}})
	}
	return sn
}

type serverOpt func(*ServerOptions)

// startServer runs a server on 127.0.0.1 with a free port; it is stopped
// when the test ends.
func startServer(t testing.TB, h ports.SyncHandler, logger *zap.Logger, opts ...serverOpt) *Server {
	t.Helper()
	o := ServerOptions{Trust: testTrust(serverIdentity), BindAddress: "127.0.0.1", Compression: true,
		HandshakeTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	s, err := NewServer(o, h, logger)
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func dialerOpts(secure bool) DialerOptions {
	return DialerOptions{Trust: testTrust(clientIdentity), Secure: secure, Compression: true,
		ConnectTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second}
}

var (
	testPSK        = protocol.DerivePSK([]byte(testKey))
	serverIdentity = testIdentity(serverNode, 1)
	clientIdentity = testIdentity(clientNode, 2)
)

// testIdentity is a node identity with a key derived from seed (repeatable,
// and cheaper than generating one per test).
func testIdentity(nodeID string, seed byte) protocol.Identity {
	return protocol.Identity{NodeID: nodeID, Private: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))}
}

// testTrust is the trust of a cluster member of testKey.
func testTrust(id protocol.Identity) Trust {
	return Trust{PSK: testPSK, Identity: id, LegacyToken: testKey}
}

// legacyLoopback lets a server accept the v5 handshake from 127.0.0.1 (the
// port of a listed peer does not matter to the server).
func legacyLoopback(o *ServerOptions) { o.Trust.LegacyPeers = []string{"127.0.0.1:1"} }

// legacyTo makes a dialer speak the v5 handshake to addr.
func legacyTo(o *DialerOptions, addr string) { o.Trust.LegacyPeers = []string{addr} }

// newDialer returns a dialer whose pool is emptied when the test ends.
func newDialer(t testing.TB, o DialerOptions, exec ports.Executor) *Dialer {
	d := NewDialer(o, exec, nil)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// observed returns a logger that records Info and above.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func logged(logs *observer.ObservedLogs, substr string) bool {
	for _, e := range logs.All() {
		if strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

// rawClient is a hand-driven client for tests that break the rules.
type rawClient struct {
	conn net.Conn
	ch   *protocol.Channel
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return &rawClient{conn: c, ch: protocol.NewChannel(c, 1<<20)}
}

func (r *rawClient) handshake(t testing.TB, id protocol.Identity) *pb.HandshakeResponse {
	t.Helper()
	require.NoError(t, r.ch.NoiseAsClient(testPSK))
	req := &pb.HandshakeRequest{NodeId: id.NodeID}
	require.NoError(t, id.SignRequest(req, r.ch.ChannelBinding()))
	return r.exchange(t, req)
}

// legacyHandshake sends the v5 plaintext handshake with token.
func (r *rawClient) legacyHandshake(t testing.TB, nodeID, token string) *pb.HandshakeResponse {
	t.Helper()
	return r.exchange(t, &pb.HandshakeRequest{NodeId: nodeID, AuthToken: token})
}

func (r *rawClient) exchange(t testing.TB, req *pb.HandshakeRequest) *pb.HandshakeResponse {
	t.Helper()
	require.NoError(t, r.ch.Send(protocol.HandshakeReq, req))
	typ, payload, err := r.ch.Recv()
	require.NoError(t, err)
	require.Equal(t, protocol.HandshakeRes, typ)
	var res pb.HandshakeResponse
	require.NoError(t, proto.Unmarshal(payload, &res))
	return &res
}

// closedWithin asserts the server closes the connection (a read sees EOF or
// reset, not our own deadline) within d.
func (r *rawClient) closedWithin(t testing.TB, d time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, r.conn.SetReadDeadline(start.Add(d)))
	buf := make([]byte, 4096)
	for {
		_, err := r.conn.Read(buf)
		if err == nil {
			continue // whatever was sent before closing
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %s", d)
		}
		return
	}
}
