package tcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// transportModes are the ways two nodes talk: Noise (Go peers) and the v5
// handshake with a listed legacy peer, plain or in the legacy secure channel.
var transportModes = []struct {
	name           string
	legacy, secure bool
}{{"noise", false, false}, {"legacy-plain", true, false}, {"legacy-secure", true, true}}

func TestRoundTripEveryRequest(t *testing.T) {
	for _, mode := range transportModes {
		for _, compression := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compression=%v", mode.name, compression), func(t *testing.T) {
				roundTripEveryRequest(t, mode.legacy, mode.secure, compression)
			})
		}
	}
}

func roundTripEveryRequest(t *testing.T, legacy, secure, compression bool) {
	h := &fakeHandler{snapshot: bigSnapshot()}
	srv := startServer(t, h, nil, func(o *ServerOptions) {
		o.Secure = secure
		o.Interests = []string{"users"}
		if legacy {
			legacyLoopback(o)
		}
	})
	o := dialerOpts(secure)
	o.Compression = compression
	o.Interests = []string{"orders"}
	if legacy {
		legacyTo(&o, srv.Addr().String())
	}
	d := newDialer(t, o, nil)
	ctx := context.Background()

	s, err := d.Dial(ctx, srv.Addr().String())
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, serverNode, s.PeerID())
	assert.Equal(t, []string{"users"}, s.(*Session).PeerInterests())
	assert.Equal(t, legacy, s.(*Session).Legacy(), "the dialer knows a legacy peer")

	// A pull before any clock request: the handler must be told, so it
	// caps the page at 99 entries for such clients.
	since := domain.Timestamp{Wall: 1764000000000, Logical: 2, Node: "x"}
	got, err := s.PullChanges(ctx, ports.PullRequest{Since: since, Collections: []string{"users"}})
	require.NoError(t, err)
	assertEntries(t, testEntries(3), got)
	p := h.lastPeer()
	assert.False(t, p.AskedClock)
	assert.Equal(t, legacy, p.Legacy, "the handler knows a legacy peer")
	assert.Equal(t, clientNode, p.NodeID)
	assert.Equal(t, []string{"orders"}, p.Interests)
	// (The server may already be reading the next page ahead.)
	h.mu.Lock()
	firstPull := h.pulls[0]
	h.mu.Unlock()
	assert.Equal(t, ports.PullRequest{Since: since, Collections: []string{"users"}}, firstPull)

	clock, err := s.GetClock(ctx)
	require.NoError(t, err)
	assert.Equal(t, testClock, clock)
	assert.True(t, h.lastPeer().AskedClock)

	vc, err := s.GetVectorClock(ctx)
	require.NoError(t, err)
	assert.Equal(t, testVC, vc)

	push := testEntries(150) // big enough to be compressed when negotiated
	// Proofs of authorship and the legacy mark cross the wire.
	push[149].Proof = &domain.AuthorProof{PublicKey: bytes.Repeat([]byte{1}, 32), LinkBefore: make([]byte, 32),
		Tail: [][]byte{bytes.Repeat([]byte{2}, 32)}, Signature: bytes.Repeat([]byte{3}, 64)}
	push[0].Legacy = true
	snap, err := s.PushChanges(ctx, push)
	require.NoError(t, err)
	assert.True(t, snap)
	assertEntries(t, push, h.pushed)

	chain, snap, err := s.GetChainRange(ctx, "start", "end")
	require.NoError(t, err)
	assert.False(t, snap)
	assertEntries(t, testEntries(2), chain)
	assert.Equal(t, [2]string{"start", "end"}, h.ranges[0])
	_, snap, err = s.GetChainRange(ctx, "pruned", "end")
	require.NoError(t, err)
	assert.True(t, snap)

	data, err := s.GetSnapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, h.snapshot, data)

	// The connection still works after a snapshot stream.
	_, err = s.GetClock(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, srv.Stats().HandshakesAccepted)
}

func assertEntries(t *testing.T, want, got []domain.Entry) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, w.Collection, g.Collection)
		assert.Equal(t, w.Key, g.Key)
		assert.Equal(t, w.Op, g.Op)
		assert.Equal(t, string(w.Data), string(g.Data))
		assert.Equal(t, w.Stamp, g.Stamp)
		assert.Equal(t, w.Hash, g.Hash)
		assert.Equal(t, w.PrevHash, g.PrevHash)
		assert.Equal(t, w.Proof, g.Proof)
		assert.Equal(t, w.Legacy, g.Legacy)
	}
}

// A peer without the cluster key is refused on both sides with
// UNAUTHORIZED, never retried, and counted by the server.
func TestHandshakeWrongKeyRejected(t *testing.T) {
	for _, mode := range transportModes {
		t.Run(mode.name, func(t *testing.T) {
			logger, logs := observed()
			srv := startServer(t, &fakeHandler{}, logger, func(o *ServerOptions) {
				o.Secure = mode.secure
				if mode.legacy {
					legacyLoopback(o)
				}
			})
			o := dialerOpts(mode.secure)
			o.Trust.PSK = protocol.DerivePSK([]byte("wrong"))
			o.Trust.LegacyToken = "wrong"
			if mode.legacy {
				legacyTo(&o, srv.Addr().String())
			}
			attempts := &countingExec{}
			d := newDialer(t, o, attempts)

			_, err := d.Dial(context.Background(), srv.Addr().String())
			require.Error(t, err)
			assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
			assert.ErrorIs(t, err, domain.ErrUnauthorized)
			if mode.legacy {
				assert.Contains(t, err.Error(), "cluster key rejected by peer")
			} else {
				assert.Contains(t, err.Error(), "different cluster keys")
			}
			assert.False(t, retry.IsTransient(err), "a rejected key is not retried")
			waitFor(t, 2*time.Second, "server log", func() bool { return logged(logs, "handshake refused") })
			waitFor(t, 2*time.Second, "connection closed", func() bool { return srv.ActiveConnections() == 0 })
			st := srv.Stats()
			assert.EqualValues(t, 1, st.RefusedWrongKey)
			assert.EqualValues(t, 1, st.Refused())
			assert.Zero(t, st.HandshakesAccepted)
		})
	}
}

// The server, too, is refused by a client holding another key: the
// client's own check, not the server's answer.
func TestServerWithWrongKeyRefusedByClient(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.Trust.PSK = protocol.DerivePSK([]byte("other")) })
	_, err := newDialer(t, dialerOpts(false), nil).Dial(context.Background(), srv.Addr().String())
	require.ErrorIs(t, err, domain.ErrUnauthorized)
	assert.False(t, retry.IsTransient(err))
}

func TestHandshakeRejectedThenClosed(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil)
	r := dialRaw(t, srv.Addr().String())
	err := r.ch.NoiseAsClient(protocol.DerivePSK([]byte("wrong")))
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	r.closedWithin(t, 2*time.Second)
}

func TestHandshakeOwnNodeIDRefused(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil)
	r := dialRaw(t, srv.Addr().String())
	res := r.handshake(t, testIdentity(serverNode, 9))
	assert.False(t, res.GetAccepted())
	r.closedWithin(t, 2*time.Second)

	o := dialerOpts(false)
	o.Trust.Identity = testIdentity(serverNode, 9)
	_, err := newDialer(t, o, nil).Dial(context.Background(), srv.Addr().String())
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	assert.EqualValues(t, 2, srv.Stats().RefusedSelf)
}

func TestRequestBeforeHandshakeClosesConnection(t *testing.T) {
	h := &fakeHandler{}
	srv := startServer(t, h, nil)
	r := dialRaw(t, srv.Addr().String())
	require.NoError(t, r.ch.Send(protocol.GetClockReq, &pb.GetClockRequest{}))
	r.closedWithin(t, 2*time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Empty(t, h.peers, "the handler never saw the request")
}

func TestUnexpectedTypeClosesConnection(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil)
	r := dialRaw(t, srv.Addr().String())
	require.True(t, r.handshake(t, clientIdentity).GetAccepted())
	// A response type sent as a request: not something a server answers.
	require.NoError(t, r.ch.Send(protocol.ClockRes, &pb.ClockResponse{}))
	r.closedWithin(t, 2*time.Second)

	// An unknown type byte: closed too.
	r = dialRaw(t, srv.Addr().String())
	require.True(t, r.handshake(t, clientIdentity).GetAccepted())
	_, err := r.conn.Write([]byte{0, 0, 0, 0, 99, 0})
	require.NoError(t, err)
	r.closedWithin(t, 2*time.Second)
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.MaxFrameBytes = 4096 })
	r := dialRaw(t, srv.Addr().String())
	require.True(t, r.handshake(t, clientIdentity).GetAccepted())
	hdr := binary.LittleEndian.AppendUint32(nil, 1<<30) // announces 1 GiB
	_, err := r.conn.Write(append(hdr, byte(protocol.PushChangesReq), 0))
	require.NoError(t, err)
	r.closedWithin(t, 2*time.Second)
}

func TestMaxConnections(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.MaxConnections = 2 })
	d := newDialer(t, dialerOpts(false), nil)
	ctx := context.Background()
	s1, err := d.Dial(ctx, srv.Addr().String())
	require.NoError(t, err)
	defer s1.Close()
	s2, err := d.Dial(ctx, srv.Addr().String())
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, 2, srv.ActiveConnections())

	r := dialRaw(t, srv.Addr().String())
	r.closedWithin(t, time.Second)
	assert.EqualValues(t, 1, srv.RejectedConnections())

	// The admitted sessions are unaffected.
	_, err = s1.GetClock(ctx)
	require.NoError(t, err)

	// A freed slot is usable again.
	require.NoError(t, s2.(*Session).c.raw.Close())
	waitFor(t, 2*time.Second, "slot freed", func() bool { return srv.ActiveConnections() == 1 })
	s3, err := NewDialer(dialerOpts(false), nil, nil).Dial(ctx, srv.Addr().String())
	require.NoError(t, err)
	_, err = s3.GetClock(ctx)
	require.NoError(t, err)
	s3.(*Session).c.close()
}

func TestSlowLorisCutByDeadline(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) {
		o.IdleTimeout = idle
		o.HandshakeTimeout = idle
	})

	t.Run("during handshake", func(t *testing.T) {
		r := dialRaw(t, srv.Addr().String())
		_, err := r.conn.Write([]byte{20, 0}) // half a header, then nothing
		require.NoError(t, err)
		start := time.Now()
		r.closedWithin(t, 3*time.Second)
		assert.GreaterOrEqual(t, time.Since(start), idle/2)
	})

	t.Run("trickling a request", func(t *testing.T) {
		r := dialRaw(t, srv.Addr().String())
		require.True(t, r.handshake(t, clientIdentity).GetAccepted())
		frame := protocol.AppendFrame(nil, protocol.Frame{Type: protocol.GetChainRangeReq, Payload: make([]byte, 64)})
		start := time.Now()
		// One byte every 50 ms keeps the socket busy but never completes a
		// frame within the idle deadline.
		for i := 0; i < len(frame); i++ {
			if _, err := r.conn.Write(frame[i : i+1]); err != nil {
				break // cut
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("server kept a trickling peer for 5 s")
			}
			time.Sleep(50 * time.Millisecond)
			if srv.ActiveConnections() == 0 {
				break
			}
		}
		r.closedWithin(t, 3*time.Second)
		assert.Less(t, time.Since(start), 3*time.Second)
	})
}

// A listed legacy peer in the other legacy channel mode fails fast.
func TestPlaintextSecureMismatch(t *testing.T) {
	for _, serverSecure := range []bool{true, false} {
		t.Run(fmt.Sprintf("server secure=%v, client secure=%v", serverSecure, !serverSecure), func(t *testing.T) {
			logger, logs := observed()
			srv := startServer(t, &fakeHandler{}, logger, func(o *ServerOptions) {
				o.Secure = serverSecure
				o.HandshakeTimeout = 3 * time.Second
				legacyLoopback(o)
			})
			o := dialerOpts(!serverSecure)
			o.ConnectTimeout = 3 * time.Second
			legacyTo(&o, srv.Addr().String())
			d := newDialer(t, o, nil)
			start := time.Now()
			_, err := d.Dial(context.Background(), srv.Addr().String())
			require.Error(t, err)
			assert.Less(t, time.Since(start), time.Second, "must fail fast, not at the timeout")
			assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
			if serverSecure {
				assert.Contains(t, err.Error(), "secure")
			} else {
				assert.Contains(t, err.Error(), "plaintext")
			}
			t.Log("client:", err)
			waitFor(t, time.Second, "server to log the failure", func() bool {
				return logged(logs, "handshake refused")
			})
			for _, e := range logs.All() {
				t.Log("server:", e.Message, e.ContextMap())
			}
			assert.Less(t, time.Since(start), time.Second)
		})
	}
}

func TestHandlerErrorClosesConnectionAndDropsSession(t *testing.T) {
	h := &fakeHandler{fail: domain.Errorf(domain.CodePersistence, "store", "disk gone")}
	srv := startServer(t, h, nil)
	d := newDialer(t, dialerOpts(false), nil)
	s, err := d.Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	start := time.Now()
	_, err = s.GetClock(context.Background())
	require.Error(t, err)
	assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	assert.Less(t, time.Since(start), time.Second)
	_, err = s.GetVectorClock(context.Background())
	require.Error(t, err, "a failed session stays failed")
	require.NoError(t, s.Close())
	assert.Zero(t, d.IdleSessions(), "a broken session is not pooled")
}

func TestSessionPoolReuseAndStaleDetection(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.IdleTimeout = 300 * time.Millisecond })
	d := newDialer(t, dialerOpts(false), nil)
	ctx := context.Background()
	addr := srv.Addr().String()

	s1, err := d.Dial(ctx, addr)
	require.NoError(t, err)
	c1 := s1.(*Session).c
	require.NoError(t, s1.Close())
	require.NoError(t, s1.Close(), "double close is harmless")
	assert.Equal(t, 1, d.IdleSessions())
	_, err = s1.GetClock(ctx)
	assert.Error(t, err, "a closed handle cannot be used")

	s2, err := d.Session(ctx, addr)
	require.NoError(t, err)
	assert.Same(t, c1, s2.(*Session).c, "the idle connection is reused")
	_, err = s2.GetClock(ctx)
	require.NoError(t, err)
	require.NoError(t, s2.Close())

	// The server cuts the idle connection; the next Dial must notice and
	// open a fresh one instead of failing the caller.
	waitFor(t, 3*time.Second, "server idle cut", func() bool { return srv.ActiveConnections() == 0 })
	s3, err := d.Dial(ctx, addr)
	require.NoError(t, err)
	assert.NotSame(t, c1, s3.(*Session).c)
	_, err = s3.GetClock(ctx)
	require.NoError(t, err)
	require.NoError(t, s3.Close())
}

func TestRequestHonoursContext(t *testing.T) {
	h := &fakeHandler{block: make(chan struct{}), entered: make(chan struct{})}
	srv := startServer(t, h, nil)
	s, err := newDialer(t, dialerOpts(false), nil).Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = s.GetClock(ctx)
	require.Error(t, err)
	assert.Equal(t, domain.CodeTimeout, domain.CodeOf(err))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	close(h.block)
}

func TestStopFinishesInFlightRequest(t *testing.T) {
	h := &fakeHandler{block: make(chan struct{}), entered: make(chan struct{})}
	srv := startServer(t, h, nil)
	idle, err := newDialer(t, dialerOpts(false), nil).Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	defer idle.Close()
	busy, err := newDialer(t, dialerOpts(false), nil).Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	defer busy.Close()

	type result struct {
		ts  domain.Timestamp
		err error
	}
	res := make(chan result, 1)
	go func() {
		ts, err := busy.GetClock(context.Background())
		res <- result{ts, err}
	}()
	<-h.entered

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- srv.Stop(ctx)
	}()
	waitFor(t, 2*time.Second, "listener closed", func() bool { return !srv.Listening() })
	waitFor(t, 2*time.Second, "idle connection closed", func() bool { return srv.ActiveConnections() == 1 })
	close(h.block)
	r := <-res
	require.NoError(t, r.err, "the request in flight is answered")
	assert.Equal(t, testClock, r.ts)
	require.NoError(t, <-stopped)
	assert.Zero(t, srv.ActiveConnections())
}

func TestStopDeadlineCutsHandlers(t *testing.T) {
	h := &fakeHandler{block: make(chan struct{}), entered: make(chan struct{})}
	srv := startServer(t, h, nil)
	s, err := newDialer(t, dialerOpts(false), nil).Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	defer s.Close()
	errc := make(chan error, 1)
	go func() { _, err := s.GetClock(context.Background()); errc <- err }()
	<-h.entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = srv.Stop(ctx)
	assert.Equal(t, domain.CodeTimeout, domain.CodeOf(err))
	require.Error(t, <-errc)
}

func TestBreakerOpensOnDeadPeerAndClosesWhenBack(t *testing.T) {
	// Reserve a port, then free it: dials to it are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	exec := retry.New(retry.Options{RetryAttempts: 2, RetryDelayMs: 1, BreakerFailures: 4, BreakerDelay: 200 * time.Millisecond}, nil)
	d := newDialer(t, dialerOpts(false), exec)
	ctx := context.Background()
	for range 2 {
		_, err := d.Dial(ctx, addr)
		require.Error(t, err)
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	}
	require.True(t, exec.BreakerOpen(addr))
	start := time.Now()
	_, err = d.Dial(ctx, addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "circuit breaker open")
	assert.Less(t, time.Since(start), 50*time.Millisecond, "an open breaker fails without dialling")

	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.Port = port })
	_ = srv
	waitFor(t, 2*time.Second, "breaker to allow a trial", func() bool { return !exec.BreakerOpen(addr) })
	s, err := d.Dial(ctx, addr)
	require.NoError(t, err)
	_, err = s.GetClock(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Equal(t, "closed", exec.BreakerState(addr))
}

// countingExec runs once and counts calls, to prove what is retried.
type countingExec struct{ runs int }

func (c *countingExec) Run(ctx context.Context, _ string, fn func(context.Context) error) error {
	c.runs++
	return fn(ctx)
}
func (c *countingExec) BreakerOpen(string) bool { return false }

func TestRequestFailuresFeedTheBreaker(t *testing.T) {
	h := &fakeHandler{fail: domain.Errorf(domain.CodePersistence, "store", "disk gone")}
	srv := startServer(t, h, nil)
	addr := srv.Addr().String()
	// Breakers count consecutive failures and every successful dial resets
	// the count, so a threshold of 1 shows that the request was counted.
	exec := retry.New(retry.Options{RetryAttempts: 3, BreakerFailures: 1, BreakerDelay: time.Minute}, nil)
	d := newDialer(t, dialerOpts(false), exec)
	s, err := d.Dial(context.Background(), addr)
	require.NoError(t, err)
	require.False(t, exec.BreakerOpen(addr))
	_, err = s.GetClock(context.Background())
	require.Error(t, err)
	require.NoError(t, s.Close())
	assert.True(t, exec.BreakerOpen(addr))
	_, err = d.Dial(context.Background(), addr)
	assert.ErrorContains(t, err, "circuit breaker open")
}

func TestRequestAttemptTimeout(t *testing.T) {
	h := &fakeHandler{block: make(chan struct{}), entered: make(chan struct{})}
	defer close(h.block)
	srv := startServer(t, h, nil)
	exec := retry.New(retry.Options{AttemptTimeout: 100 * time.Millisecond}, nil)
	d := newDialer(t, dialerOpts(false), exec)
	s, err := d.Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	start := time.Now()
	_, err = s.GetClock(context.Background())
	assert.Equal(t, domain.CodeTimeout, domain.CodeOf(err))
	assert.Less(t, time.Since(start), 2*time.Second)
	require.NoError(t, s.Close())
	assert.Zero(t, d.IdleSessions(), "a timed-out session is not pooled")
}
