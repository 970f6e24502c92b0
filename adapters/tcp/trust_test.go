package tcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Two Go nodes that remember peer keys sync over Noise, each recording the
// other's identity key on first sight.
func TestNoiseSyncRecordsPeerKeys(t *testing.T) {
	serverKeys, clientKeys := memory.New(), memory.New()
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.Trust.PeerKeys = serverKeys })
	o := dialerOpts(false)
	o.Trust.PeerKeys = clientKeys
	s, err := newDialer(t, o, nil).Dial(t.Context(), srv.Addr().String())
	require.NoError(t, err)
	got, err := s.PullChanges(t.Context(), ports.PullRequest{})
	require.NoError(t, err)
	assertEntries(t, testEntries(3), got)
	require.NoError(t, s.Close())

	// Each side now holds the other's key: another key for it is refused.
	other := testIdentity("x", 42).Public()
	require.ErrorIs(t, serverKeys.CheckPeerKey(t.Context(), clientNode, other), domain.ErrUnauthorized)
	require.NoError(t, serverKeys.CheckPeerKey(t.Context(), clientNode, clientIdentity.Public()))
	require.ErrorIs(t, clientKeys.CheckPeerKey(t.Context(), serverNode, other), domain.ErrUnauthorized)
	require.NoError(t, clientKeys.CheckPeerKey(t.Context(), serverNode, serverIdentity.Public()))
}

// A peer presenting a known node id with another identity key is refused
// (by the server, and by a client that knows the server's key), and the
// recorded key stays the one that is accepted.
func TestKnownNodeIDWithOtherKeyRefused(t *testing.T) {
	keys := memory.New()
	require.NoError(t, keys.CheckPeerKey(t.Context(), clientNode, clientIdentity.Public()))
	logger, logs := observed()
	srv := startServer(t, &fakeHandler{}, logger, func(o *ServerOptions) { o.Trust.PeerKeys = keys })
	addr := srv.Addr().String()

	impostor := dialerOpts(false)
	impostor.Trust.Identity = testIdentity(clientNode, 66)
	_, err := newDialer(t, impostor, &countingExec{}).Dial(t.Context(), addr)
	require.ErrorIs(t, err, domain.ErrUnauthorized)
	assert.False(t, retry.IsTransient(err))
	waitFor(t, 2*time.Second, "refusal counted", func() bool { return srv.Stats().RefusedIdentity == 1 })
	assert.True(t, logged(logs, "handshake refused"))

	s, err := newDialer(t, dialerOpts(false), nil).Dial(t.Context(), addr)
	require.NoError(t, err, "the recorded key is still accepted")
	require.NoError(t, s.Close())

	// The client side: a server answering with another key for a node id
	// the client knows is refused.
	known := memory.New()
	require.NoError(t, known.CheckPeerKey(t.Context(), serverNode, testIdentity(serverNode, 77).Public()))
	o := dialerOpts(false)
	o.Trust.PeerKeys = known
	_, err = newDialer(t, o, nil).Dial(t.Context(), addr)
	require.ErrorIs(t, err, domain.ErrUnauthorized)
	assert.False(t, retry.IsTransient(err))
}

// A v5 client from an address not in LegacyPeers is refused on its first
// bytes: before the key exchange (secure) or before the frame that carries
// the token (plaintext) is read, so no token is ever compared.
func TestLegacyClientNotListedRefusedBeforeToken(t *testing.T) {
	t.Run("plaintext", func(t *testing.T) {
		srv := startServer(t, &fakeHandler{}, nil)
		r := dialRaw(t, srv.Addr().String())
		// The header of a HandshakeReq frame announcing 64 bytes: the
		// payload, where the token would be, is never sent.
		hdr := binary.LittleEndian.AppendUint32(nil, 64)
		_, err := r.conn.Write(append(hdr, byte(protocol.HandshakeReq), 0))
		require.NoError(t, err)
		r.closedWithin(t, 2*time.Second)
		assert.EqualValues(t, 1, srv.Stats().RefusedLegacy)
	})
	t.Run("secure", func(t *testing.T) {
		srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.Secure = true })
		r := dialRaw(t, srv.Addr().String())
		// The key exchange never completes, so the client never gets to
		// send a HandshakeReq at all.
		err := r.ch.SecureAsClient()
		require.Error(t, err)
		r.closedWithin(t, 2*time.Second)
		assert.EqualValues(t, 1, srv.Stats().RefusedLegacy)
	})
	t.Run("dialer", func(t *testing.T) {
		srv := startServer(t, &fakeHandler{}, nil)
		o := dialerOpts(false)
		legacyTo(&o, srv.Addr().String())
		_, err := newDialer(t, o, nil).Dial(t.Context(), srv.Addr().String())
		require.Error(t, err)
		assert.EqualValues(t, 1, srv.Stats().RefusedLegacy)
	})
}

// A v5 client from a listed source is accepted with the token, and refused
// with another one.
func TestLegacyClientListedAccepted(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, legacyLoopback)
	r := dialRaw(t, srv.Addr().String())
	require.True(t, r.legacyHandshake(t, "family-node", testKey).GetAccepted())
	require.NoError(t, r.ch.Send(protocol.GetClockReq, &pb.GetClockRequest{}))
	typ, _, err := r.ch.Recv()
	require.NoError(t, err)
	require.Equal(t, protocol.ClockRes, typ)

	r = dialRaw(t, srv.Addr().String())
	require.False(t, r.legacyHandshake(t, "family-node", "wrong").GetAccepted())
	r.closedWithin(t, 2*time.Second)
	st := srv.Stats()
	assert.EqualValues(t, 1, st.RefusedWrongKey)
	assert.EqualValues(t, 1, st.HandshakesAccepted)
}

// recordingConn keeps every byte read from the connection.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.got.Bytes())
}

// A fake peer completes the legacy P-256 exchange for whoever connects and
// decrypts what follows. The dialer sends it the token only when its
// address is a listed legacy peer; to any other address it speaks Noise,
// which the fake cannot answer, and fails cleanly.
func TestDialerSendsTokenOnlyToLegacyPeers(t *testing.T) {
	for _, listed := range []bool{false, true} {
		t.Run(fmt.Sprint("listed=", listed), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			type capture struct {
				raw       []byte
				decrypted []byte
				exchanged bool
			}
			got := make(chan capture, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- capture{}
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				rc := &recordingConn{Conn: c}
				ch := protocol.NewChannel(rc, 0)
				var out capture
				if ch.SecureAsServer() == nil {
					out.exchanged = true
					if _, payload, err := ch.Recv(); err == nil {
						out.decrypted = payload
					}
				}
				out.raw = rc.bytes()
				got <- out
			}()

			addr := ln.Addr().String()
			o := dialerOpts(true)
			if listed {
				legacyTo(&o, addr)
			}
			start := time.Now()
			_, dialErr := newDialer(t, o, nil).Dial(t.Context(), addr)
			c := <-got
			assert.NotContains(t, string(c.raw), testKey, "the token never travels in clear")
			if listed {
				require.True(t, c.exchanged)
				assert.Contains(t, string(c.decrypted), testKey, "control: a listed legacy peer is sent the token")
				return
			}
			require.Error(t, dialErr)
			assert.Less(t, time.Since(start), 2*time.Second, "fails fast")
			assert.False(t, c.exchanged, "the dialer never completed the legacy exchange")
			assert.NotContains(t, string(c.decrypted), testKey)
			t.Log("dialer:", dialErr)
		})
	}
}

// relay forwards one connection at a time between a client and target,
// recording every byte in both directions.
type relay struct {
	ln  net.Listener
	mu  sync.Mutex
	rec bytes.Buffer
	wg  sync.WaitGroup
}

func startRelay(t *testing.T, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &relay{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			r.wg.Add(2)
			go r.pipe(c, s)
			go r.pipe(s, c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); r.wg.Wait() })
	return r
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.rec.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) recorded() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.rec.Bytes())
}

// Through a relay that records everything, sync works and the recording
// holds neither the cluster secret (nor its PSK) nor a document's text.
func TestRelaySeesNoSecretNorDocument(t *testing.T) {
	const marker = "top-secret-document-body"
	doc := domain.Entry{Collection: "users", Key: "u1", Op: domain.OpPut, Data: []byte(`{"note":"` + marker + `"}`),
		Stamp: domain.Timestamp{Wall: 1764000000000, Node: "author-a"}}
	doc.Seal("")
	h := &fakeHandler{pull: []domain.Entry{doc}}
	srv := startServer(t, h, nil)
	rl := startRelay(t, srv.Addr().String())
	o := dialerOpts(false)
	o.Compression = false // what travels would be readable if it were not encrypted
	s, err := newDialer(t, o, nil).Dial(t.Context(), rl.ln.Addr().String())
	require.NoError(t, err)
	got, err := s.PullChanges(t.Context(), ports.PullRequest{})
	require.NoError(t, err)
	assertEntries(t, []domain.Entry{doc}, got)
	_, err = s.PushChanges(t.Context(), []domain.Entry{doc})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	rec := rl.recorded()
	require.NotEmpty(t, rec)
	assert.False(t, bytes.Contains(rec, []byte(testKey)), "the secret crossed the relay")
	assert.False(t, bytes.Contains(rec, testPSK[:]), "the PSK crossed the relay")
	assert.False(t, bytes.Contains(rec, []byte(marker)), "a document crossed the relay in clear")
}

// brotliBomb is a HandshakeReq frame flagged compressed whose payload
// inflates to a node id of size bytes.
func brotliBomb(size int) []byte {
	req, _ := proto.Marshal(&pb.HandshakeRequest{NodeId: strings.Repeat("A", size), AuthToken: "x"})
	return protocol.AppendFrame(nil, protocol.Frame{Type: protocol.HandshakeReq, Compressed: true,
		Payload: protocol.Compress(req, 9)})
}

// 100 compressed frames before authentication are refused without being
// inflated, from a listed legacy source (the frame is read) and from any
// other (refused on its first bytes).
func TestCompressedPreAuthFramesNotInflated(t *testing.T) {
	bomb := brotliBomb(16 << 20) // 1.6 GB if all 100 were inflated
	require.Less(t, len(bomb), 64<<10, "the bomb is small on the wire")
	for _, listed := range []bool{false, true} {
		t.Run(fmt.Sprint("listed=", listed), func(t *testing.T) {
			srv := startServer(t, &fakeHandler{}, zap.NewNop(), func(o *ServerOptions) {
				o.MaxFrameBytes = 128 << 20 // even a generous frame cap must not matter before authentication
				if listed {
					legacyLoopback(o)
				}
			})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range 100 {
				r := dialRaw(t, srv.Addr().String())
				_, err := r.conn.Write(bomb)
				require.NoError(t, err)
				r.closedWithin(t, 2*time.Second)
				_ = r.conn.Close()
			}
			runtime.ReadMemStats(&after)
			grown := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d MB for 100 bombs", grown>>20)
			assert.Less(t, grown, uint64(50<<20))
			st := srv.Stats()
			assert.EqualValues(t, 100, st.Refused())
			assert.Zero(t, st.HandshakesAccepted)
		})
	}
}

// Silent connections from the peer's own address cannot lock it out: the
// oldest unauthenticated ones make room, by the per-source cap and by
// MaxConnections, long before the handshake deadline.
func TestSilentConnectionsDoNotLockOutPeers(t *testing.T) {
	for _, tc := range []struct {
		name string
		room int // unauthenticated connections the server keeps
		opts func(*ServerOptions)
	}{
		{"per-source cap", defaultMaxPreAuth, func(*ServerOptions) {}},
		{"max connections", 20, func(o *ServerOptions) { o.MaxPreAuthPerSource = 1000; o.MaxConnections = 20 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, &fakeHandler{}, zap.NewNop(), func(o *ServerOptions) {
				o.HandshakeTimeout = time.Minute
				tc.opts(o)
			})
			addr := srv.Addr().String()
			for range 100 {
				c, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				defer c.Close()
			}
			// Each admission beyond the cap evicted exactly one older one.
			waitFor(t, 5*time.Second, "the silent connections admitted", func() bool {
				return srv.Stats().EvictedPreAuth == uint64(100-tc.room)
			})
			start := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s, err := newDialer(t, dialerOpts(false), nil).Dial(ctx, addr)
			require.NoError(t, err)
			_, err = s.PullChanges(ctx, ports.PullRequest{})
			require.NoError(t, err)
			require.NoError(t, s.Close())
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.EqualValues(t, 100-tc.room+1, srv.Stats().EvictedPreAuth, "the real peer took the oldest one's place")
			assert.Zero(t, srv.Stats().RejectedFull)
		})
	}
}

// Only when every slot is authenticated is a newcomer refused.
func TestFullOfAuthenticatedRefusesNewcomer(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, func(o *ServerOptions) { o.MaxConnections = 1 })
	s, err := newDialer(t, dialerOpts(false), nil).Dial(t.Context(), srv.Addr().String())
	require.NoError(t, err)
	defer s.Close()
	_, err = newDialer(t, dialerOpts(false), nil).Dial(t.Context(), srv.Addr().String())
	require.Error(t, err)
	assert.EqualValues(t, 1, srv.Stats().RejectedFull)
	_, err = s.GetClock(t.Context())
	require.NoError(t, err, "the authenticated connection was not evicted")
}

// snapshotHandler counts how many GetSnapshot calls run at once.
type snapshotHandler struct {
	fakeHandler
	cur, peak atomic.Int32
	hold      chan struct{} // each call waits for a receive (or close)
}

func (h *snapshotHandler) GetSnapshot(ctx context.Context, _ ports.PeerInfo) (domain.Snapshot, error) {
	n := h.cur.Add(1)
	defer h.cur.Add(-1)
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-h.hold:
	case <-ctx.Done():
	}
	return domain.Snapshot{Heads: map[string]string{"n1": "h1"}}, nil
}

// 20 concurrent snapshot requests are served at most MaxConcurrentSnapshots
// at a time; all of them are answered.
func TestConcurrentSnapshotsBounded(t *testing.T) {
	h := &snapshotHandler{hold: make(chan struct{})}
	srv := startServer(t, h, nil)
	d := newDialer(t, dialerOpts(false), nil)
	sessions := make([]ports.PeerSession, 20)
	for i := range sessions {
		s, err := d.Dial(t.Context(), srv.Addr().String())
		require.NoError(t, err)
		sessions[i] = s
	}
	errs := make(chan error, len(sessions))
	for _, s := range sessions {
		go func() {
			_, err := s.GetSnapshot(t.Context())
			errs <- err
			_ = s.Close()
		}()
	}
	// Every slot fills while requests wait; then one at a time is let go.
	for i := range sessions {
		want := int32(min(defaultMaxSnapshots, len(sessions)-i))
		waitFor(t, 5*time.Second, "the slots in service", func() bool { return h.cur.Load() == want })
		h.hold <- struct{}{}
	}
	for range sessions {
		require.NoError(t, <-errs)
	}
	assert.EqualValues(t, defaultMaxSnapshots, h.peak.Load())
}

// A snapshot request that finds no slot within the write timeout has its
// connection closed.
func TestSnapshotWithoutSlotClosesConnection(t *testing.T) {
	h := &snapshotHandler{hold: make(chan struct{})}
	defer close(h.hold)
	srv := startServer(t, h, nil, func(o *ServerOptions) {
		o.MaxConcurrentSnapshots = 1
		o.WriteTimeout = 200 * time.Millisecond
	})
	d := newDialer(t, dialerOpts(false), nil)
	first, err := d.Dial(t.Context(), srv.Addr().String())
	require.NoError(t, err)
	second, err := d.Dial(t.Context(), srv.Addr().String())
	require.NoError(t, err)
	go func() { _, _ = first.GetSnapshot(context.Background()) }()
	waitFor(t, 2*time.Second, "first snapshot in service", func() bool { return h.cur.Load() == 1 })
	_, err = second.GetSnapshot(t.Context())
	require.Error(t, err)
	assert.EqualValues(t, 1, srv.Stats().SnapshotsRefused)
	_ = second.Close()
}

// A tiny frame that inflates to a huge node id, or a node id as large as a
// pre-auth frame allows, leaves no long line in the log.
func TestHugePeerNodeIDNeverLoggedWhole(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	srv := startServer(t, &fakeHandler{}, zap.New(core), func(o *ServerOptions) {
		o.MaxFrameBytes = 8 << 20
		legacyLoopback(o)
	})
	bomb := brotliBomb(4 << 20)
	t.Logf("bomb frame: %d bytes", len(bomb))
	r := dialRaw(t, srv.Addr().String())
	_, err := r.conn.Write(bomb)
	require.NoError(t, err)
	r.closedWithin(t, 2*time.Second)

	// Uncompressed, wrong token: refused with an answer naming the peer.
	r = dialRaw(t, srv.Addr().String())
	require.False(t, r.legacyHandshake(t, strings.Repeat("N", 3000), "wrong").GetAccepted())
	r.closedWithin(t, 2*time.Second)

	// Over Noise, with a bad proof.
	r = dialRaw(t, srv.Addr().String())
	require.NoError(t, r.ch.NoiseAsClient(testPSK))
	res := r.exchange(t, &pb.HandshakeRequest{NodeId: strings.Repeat("M", 3000), IdentityKey: make([]byte, 32), IdentityProof: make([]byte, 64)})
	require.False(t, res.GetAccepted())
	r.closedWithin(t, 2*time.Second)

	waitFor(t, 2*time.Second, "three refusals", func() bool { return srv.Stats().Refused() == 3 })
	require.NotEmpty(t, logs.All())
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		assert.Less(t, len(line), 1024, "log line of %d bytes: %.200s", len(line), line)
	}
}

// Refusals from one source are logged at Warn once a minute, and below
// that afterwards.
func TestRefusalsLoggedOncePerSource(t *testing.T) {
	logger, logs := observed()
	srv := startServer(t, &fakeHandler{}, logger)
	for range 5 {
		r := dialRaw(t, srv.Addr().String())
		_ = r.ch.NoiseAsClient(protocol.DerivePSK([]byte("wrong")))
		r.closedWithin(t, 2*time.Second)
	}
	waitFor(t, 2*time.Second, "five refusals", func() bool { return srv.Stats().RefusedWrongKey == 5 })
	assert.Len(t, logs.FilterMessage("handshake refused").All(), 1)
}

// The legacy allow list holds the addresses its hosts resolve to; a miss
// resolves again at most every legacyResolveEvery, and an empty list
// allows nobody.
func TestLegacySourcesResolveAndRateLimit(t *testing.T) {
	l := newLegacySources([]string{"127.0.0.1:5000", "localhost:6000", "no-such-host.invalid:1", "::1"})
	l.resolve()
	assert.True(t, l.allowed("127.0.0.1"))
	first := l.resolved
	assert.False(t, l.allowed("10.9.8.7"))
	assert.Equal(t, first, l.resolved, "a miss within the interval does not resolve again")
	l.resolved = first.Add(-legacyResolveEvery)
	assert.False(t, l.allowed("10.9.8.7"))
	assert.True(t, l.resolved.After(first), "a miss after the interval resolves again")
	assert.True(t, l.allowed("127.0.0.1"), "still listed after resolving again")

	assert.False(t, newLegacySources(nil).allowed("127.0.0.1"))
}
