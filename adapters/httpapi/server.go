package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// Server timeouts. Reads are bounded so a slow client cannot hold a
// connection; WriteTimeout bounds ordinary responses (the change feed lifts
// it for its own stream). IdleTimeout closes keep-alive connections no
// client reuses; the connection cap (SetMaxConnections) bounds the rest.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 30 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Server runs the API on one address. Start binds and serves in a goroutine
// the Server owns; Stop shuts it down and waits for that goroutine.
type Server struct {
	addr  string
	srv   *http.Server
	log   *zap.Logger
	limit *connLimit
	tls   *tls.Config // nil: plain HTTP

	mu   sync.Mutex
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
}

// NewServer prepares a server for handler on addr ("127.0.0.1:5080"; port 0
// picks a free port, see Addr). A handler with a CloseStreams method (the
// *API) has it called when shutdown begins, so open change feeds end.
func NewServer(addr string, handler http.Handler, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Server{addr: addr, log: logger, limit: newConnLimit(0)}
	s.srv = &http.Server{
		ConnState:         func(c net.Conn, st http.ConnState) { s.limit.track(c, st) },
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
	}
	if c, ok := handler.(interface{ CloseStreams() }); ok {
		s.srv.RegisterOnShutdown(c.CloseStreams)
	}
	return s
}

// SetMaxConnections caps open connections (Http.MaxConnections; <= 0:
// DefaultMaxConnections): at the cap a new connection replaces the longest
// idle one, or is closed when all are busy.
func (s *Server) SetMaxConnections(n int) {
	s.limit.setMax(n)
}

// SetTLS makes the server speak TLS with cfg (before Start). HTTP/2 stays
// off: one request at a time per connection keeps the connection cap a cap
// on concurrent requests.
func (s *Server) SetTLS(cfg *tls.Config) {
	s.tls = cfg
	s.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
}

// Start binds the address (so a port in use fails here, as NETWORK_ERROR)
// and serves in the background. It logs where it listens, and warns when
// it serves plain HTTP beyond loopback: keys and documents cross the
// network readable (only reached with Http.AllowInsecure).
func (s *Server) Start(ctx context.Context) error {
	const op = "httpapi.Start"
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return domain.Errorf(domain.CodeInvalidArgument, op, "server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return domain.Errorf(domain.CodeNetwork, op, "cannot listen on %s: %w", s.addr, err)
	}
	if s.tls != nil {
		// The cap counts the *tls.Conn the server tracks (conn_limit.go).
		ln = tls.NewListener(ln, s.tls)
	}
	ln = limitListener{Listener: ln, limit: s.limit}
	s.ln = ln
	s.done = make(chan struct{})
	addr := ln.Addr().String()
	switch {
	case s.tls != nil:
		s.log.Info("HTTPS API listening", zap.String("address", addr))
	case isLoopback(ln.Addr()):
		s.log.Info("HTTP API listening", zap.String("address", addr))
	default:
		s.log.Warn("HTTP API serving plain HTTP on a non-loopback interface: API keys and documents cross the network readable",
			zap.String("address", addr))
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP API stopped", zap.Error(err))
		}
	}()
	return nil
}

// Name names the server among a node's components.
func (s *Server) Name() string { return "HTTP API" }

// Addr is the bound address after Start ("" before).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting, lets in-flight requests finish until ctx ends, then
// closes whatever is left. It returns TIMEOUT_ERROR when it had to cut
// requests off.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		err = domain.Errorf(domain.CodeTimeout, "httpapi.Stop", "in-flight requests did not finish in time: %w", err)
	}
	<-done
	return err
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
