package tcp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Server accepts peers' connections and answers their requests through a
// ports.SyncHandler. One goroutine accepts; one goroutine serves each
// connection; Stop ends and waits for all of them.
type Server struct {
	opts    ServerOptions
	handler ports.SyncHandler
	logger  *zap.Logger

	// ctx is the handlers' context; cancelled when Stop gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}    // guarded by mu
	preAuth map[net.Conn]preAuthConn // guarded by mu; the not yet authenticated among conns
	admits  uint64                   // guarded by mu; admission counter for preAuth's order
	started bool                     // guarded by mu

	legacy     *legacySources
	snapshots  chan struct{} // a slot per snapshot being served
	refusalLog refusalLimiter

	stopping         atomic.Bool
	listening        atomic.Bool
	active           atomic.Int64
	rejected         atomic.Int64
	evicted          atomic.Uint64
	handshakes       atomic.Uint64
	snapshotsRefused atomic.Uint64
	refused          [numRefusals]atomic.Uint64
	wg               sync.WaitGroup
}

// NewServer checks the options and builds a Server; Start makes it listen.
func NewServer(opts ServerOptions, handler ports.SyncHandler, logger *zap.Logger) (*Server, error) {
	const op = "tcp.NewServer"
	if opts.Trust.Identity.NodeID == "" {
		return nil, domain.Errorf(domain.CodeConfig, op, "node id is empty")
	}
	if len(opts.Trust.Identity.Private) != ed25519.PrivateKeySize {
		return nil, domain.Errorf(domain.CodeConfig, op, "no identity key")
	}
	if opts.Trust.PSK == [32]byte{} {
		return nil, domain.Errorf(domain.CodeConfig, op, "no pre-shared key (derive it from the cluster secret)")
	}
	if handler == nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "no sync handler")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, domain.Errorf(domain.CodeConfig, op, "port %d out of range", opts.Port)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts = opts.withDefaults()
	return &Server{
		opts:      opts,
		handler:   handler,
		logger:    logger.Named("tcp.server"),
		ctx:       ctx,
		cancel:    cancel,
		conns:     make(map[net.Conn]struct{}),
		preAuth:   make(map[net.Conn]preAuthConn),
		legacy:    newLegacySources(opts.Trust.LegacyPeers),
		snapshots: make(chan struct{}, opts.MaxConcurrentSnapshots),
	}, nil
}

// Start listens on BindAddress:Port and starts accepting in the background.
func (s *Server) Start(ctx context.Context) error {
	const op = "tcp.Server.Start"
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return domain.Errorf(domain.CodeInternal, op, "server already started")
	}
	addr := net.JoinHostPort(s.opts.BindAddress, strconv.Itoa(s.opts.Port))
	lc := net.ListenConfig{KeepAlive: keepAlivePeriod}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return domain.Errorf(domain.CodeNetwork, op, "listen on %s: %w", addr, err)
	}
	s.legacy.resolve()
	s.ln = ln
	s.started = true
	s.listening.Store(true)
	s.wg.Add(1)
	go s.acceptLoop(ln)
	s.logger.Info("listening", zap.String("address", ln.Addr().String()),
		zap.Bool("compression", s.opts.Compression), zap.Int("legacy_peers", len(s.opts.Trust.LegacyPeers)),
		zap.Bool("legacy_secure", s.opts.Secure))
	return nil
}

// Name names the server among a node's components.
func (s *Server) Name() string { return "sync listener" }

// Addr is the bound address (with the real port when Port was 0), nil
// before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Listening reports whether the listener is up (for health checks).
func (s *Server) Listening() bool { return s.listening.Load() }

// ActiveConnections is the number of connections being served.
func (s *Server) ActiveConnections() int { return int(s.active.Load()) }

// RejectedConnections counts connections closed at once because
// MaxConnections authenticated connections were already being served.
func (s *Server) RejectedConnections() int64 { return s.rejected.Load() }

// Stop closes the listener, lets requests in flight finish and closes idle
// connections at once. When ctx ends first, it closes every connection and
// cancels the handlers. Either way it returns only after every goroutine of
// the server has ended.
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Store(true)
	s.listening.Store(false)
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	// Wake connections blocked waiting for a request; a connection busy
	// with one sees the stopping flag once it has answered.
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = domain.Errorf(domain.CodeTimeout, "tcp.Server.Stop", "requests still in flight at the deadline were cut: %w", ctx.Err())
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.cancel()
		<-done
	}
	s.cancel()
	return err
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	defer s.listening.Store(false)
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off rather than spin
			// (the same shape as net/http's accept loop).
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("accept failed", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !s.admit(conn) {
			continue
		}
		go s.serve(conn)
	}
}

// admit registers conn, or closes it at once when the server is stopping,
// or full of authenticated connections. Room is made by closing the oldest
// unauthenticated connection: of conn's source when it already holds
// MaxPreAuthPerSource of them, of any source at MaxConnections; so silent
// connections cannot lock out a real peer. It adds to wg for the serving
// goroutine.
func (s *Server) admit(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		_ = conn.Close()
		return false
	}
	src := sourceIP(conn)
	if s.preAuthFrom(src) >= s.opts.MaxPreAuthPerSource {
		s.evictOldestLocked(src)
	}
	if len(s.conns) >= s.opts.MaxConnections && !s.evictOldestLocked("") {
		s.rejected.Add(1)
		s.logger.Warn("connection refused: too many connections",
			zap.String("remote", conn.RemoteAddr().String()), zap.Int("max", s.opts.MaxConnections))
		_ = conn.Close()
		return false
	}
	s.admits++
	s.conns[conn] = struct{}{}
	s.preAuth[conn] = preAuthConn{src: src, seq: s.admits}
	s.active.Add(1)
	s.wg.Add(1)
	return true
}

func (s *Server) release(conn net.Conn) {
	_ = conn.Close()
	s.mu.Lock()
	delete(s.conns, conn)
	delete(s.preAuth, conn)
	s.mu.Unlock()
	s.active.Add(-1)
	s.wg.Done()
}
