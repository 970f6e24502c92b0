// Package httpapi is the driving HTTP adapter: the REST API of INTERFACE.md,
// the change feed as Server-Sent Events, /healthz, /readyz and /metrics. It
// depends on the app only through the small interfaces below, which the
// wiring satisfies with thin shims over app.Database.
package httpapi

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Documents is what the API needs of the database. Errors carry domain
// codes (INVALID_ARGUMENT, NOT_FOUND, CONFLICT, TOO_LARGE, QUEUE_FULL, ...).
// Put and Batch validate document bodies (domain.ValidateWrite, the app
// does): the API checks only the request's size, so each body is parsed
// once.
type Documents interface {
	// Put writes body; with ifVersion set it is conditional (CONFLICT unless
	// the stored live version equals it; a zero Timestamp: unless absent).
	Put(ctx context.Context, collection, key string, body []byte, ifVersion *domain.Timestamp) (domain.Timestamp, error)
	// Get returns the live document; NOT_FOUND when missing or deleted.
	Get(ctx context.Context, collection, key string) (domain.Document, error)
	// Delete deletes the document; NOT_FOUND when absent.
	Delete(ctx context.Context, collection, key string) (domain.Timestamp, error)
	// Batch applies puts and deletes all or nothing.
	Batch(ctx context.Context, collection string, puts map[string][]byte, deletes []string) (map[string]domain.Timestamp, error)
	Find(ctx context.Context, collection string, q domain.Query) ([]domain.Document, error)
	Count(ctx context.Context, collection string, f domain.Filter) (int, error)
	Collections(ctx context.Context) ([]string, error)
}

// ChangeStream is one subscription to the change feed. C is closed when it
// ends, and Err then says why (nil after Close or when its context ended).
type ChangeStream interface {
	C() <-chan domain.Change
	Err() error
	Close()
}

// Changes opens change feed subscriptions from a commit sequence
// (exclusive); since < 0 means only changes from now on.
type Changes interface {
	Watch(ctx context.Context, since int64) (ChangeStream, error)
}

// Options are the API's dependencies and limits. Documents is required; a
// nil optional dependency leaves its route out (404).
type Options struct {
	Documents Documents
	Changes   Changes
	Status    func(ctx context.Context) (ports.SyncStatus, error)
	Peers     func(ctx context.Context) ([]ports.PeerStatus, error)
	Health    func(ctx context.Context) ports.HealthReport
	// Ready returns nil once the database is open and the sync listener is up.
	Ready  func(ctx context.Context) error
	Backup func(ctx context.Context) (path string, bytes int64, err error)
	// Metrics is the node's own registry, served at /metrics.
	Metrics prometheus.Gatherer
	Logger  *zap.Logger

	// MaxDocumentBytes is Persistence.MaxDocumentBytes (0: the domain default).
	MaxDocumentBytes int
	// MaxBatchBytes bounds a batch request body (0: 16 MiB, the default frame limit).
	MaxBatchBytes int
	// RequestTimeout bounds each document request (0: 30 s). Not applied to
	// the change feed or backups.
	RequestTimeout time.Duration
	// AllowedHosts are the Host names answered (see AllowedHosts; empty:
	// the loopback names). Others get 421, except on /healthz and /readyz.
	AllowedHosts []string
	// AllowedOrigins are the browser origins CORS admits, exactly as the
	// Origin header spells them; empty: none (no CORS headers at all).
	AllowedOrigins []string
	// MaxChangeFeeds caps open /v1/changes subscribers; more get 503
	// QUEUE_FULL (0: DefaultMaxChangeFeeds).
	MaxChangeFeeds int
	// Heartbeat is how often an idle change feed sends a comment, which
	// keeps proxies from closing it and notices gone clients (0: 15 s).
	Heartbeat time.Duration
	// Keys checks the Bearer key of every request but /healthz and /readyz
	// (and /metrics when PublicMetrics) and serves /v1/admin/keys. Nil
	// builds an API without authentication, where every caller is admin:
	// for tests and measurements only, the node always sets it.
	Keys Keys
	// PublicMetrics serves /metrics without a key (Http.PublicMetrics).
	PublicMetrics bool

	// The dashboard's read-only views (dashboard.go); nil leaves each out.
	Views Views
	// UI is the dashboard (adapters/webui), served under /ui/ without a
	// key (GET / redirects there): its pages hold no data, every data call
	// they make goes through the routes above. Sessions are its sign-ins,
	// accepted in place of the Bearer key (session.go). Nil: no dashboard.
	UI       http.Handler
	Sessions Sessions
}

// API is the http.Handler of the node.
type API struct {
	opts  Options
	log   *zap.Logger
	mux   *http.ServeMux
	needs map[string]need // route pattern → what it asks of the caller
	hosts []string        // normalized AllowedHosts
	feeds atomic.Int64    // open change feeds

	// closing is closed by CloseStreams: open change feeds end so a server
	// shutdown does not wait for clients that never hang up.
	closeOnce sync.Once
	closing   chan struct{}
}

// DefaultMaxChangeFeeds is the change feed subscriber cap when none is
// configured: each feed holds a goroutine, a buffer and a subscription the
// write path fans out to.
const DefaultMaxChangeFeeds = 256

// bodySlack lets a body a little over the document limit be read whole, so
// the 413 can say by how much it is over.
const bodySlack = 64 << 10

// New builds the API. It panics when opts.Documents is nil (a wiring bug).
func New(opts Options) *API {
	if opts.Documents == nil {
		panic("httpapi.New: Options.Documents is nil")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.MaxDocumentBytes <= 0 {
		opts.MaxDocumentBytes = domain.DefaultMaxDocumentBytes
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 16 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.MaxChangeFeeds <= 0 {
		opts.MaxChangeFeeds = DefaultMaxChangeFeeds
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	a := &API{opts: opts, log: opts.Logger, mux: http.NewServeMux(), needs: map[string]need{},
		closing: make(chan struct{}), hosts: AllowedHosts("", opts.AllowedHosts)}
	a.routes()
	return a
}

func (a *API) routes() {
	timed := a.withTimeout
	a.handle("PUT /v1/collections/{c}/docs/{key}", needWrite, timed(a.putDocument))
	a.handle("GET /v1/collections/{c}/docs/{key}", needRead, timed(a.getDocument))
	a.handle("DELETE /v1/collections/{c}/docs/{key}", needWrite, timed(a.deleteDocument))
	a.handle("POST /v1/collections/{c}/batch", needWrite, timed(a.batch))
	a.handle("GET /v1/collections/{c}/docs", needRead, timed(a.find))
	a.handle("POST /v1/collections/{c}/find", needRead, timed(a.findByBody))
	a.handle("GET /v1/collections/{c}/count", needRead, timed(a.count))
	a.handle("GET /v1/collections", needKey, timed(a.collections))
	if _, ok := a.opts.Documents.(Indexer); ok {
		a.handle("POST /v1/collections/{c}/indexes", needAdmin, timed(a.createIndex))
	}
	if a.opts.Changes != nil {
		a.handle("GET /v1/changes", needKey, http.HandlerFunc(a.changes))
	}
	if a.opts.Peers != nil {
		a.handle("GET /v1/peers", needAdmin, timed(a.peers))
	}
	if a.opts.Status != nil {
		a.handle("GET /v1/status", needAdmin, timed(a.status))
	}
	if a.opts.Backup != nil {
		a.handle("POST /v1/admin/backup", needAdmin, http.HandlerFunc(a.backup))
	}
	if a.opts.Keys != nil {
		a.handle("POST /v1/admin/keys", needAdmin, timed(a.createKey))
		a.handle("GET /v1/admin/keys", needAdmin, timed(a.listKeys))
		a.handle("DELETE /v1/admin/keys/{id}", needAdmin, timed(a.revokeKey))
	}
	a.dashboardRoutes()
	if a.opts.Health != nil {
		a.handle("GET /healthz", needNothing, timed(a.healthz))
	}
	a.handle("GET /readyz", needNothing, timed(a.readyz))
	if a.opts.Metrics != nil {
		n := needMetrics
		if a.opts.PublicMetrics {
			n = needNothing
		}
		a.handle("GET /metrics", n, promhttp.HandlerFor(a.opts.Metrics, promhttp.HandlerOpts{
			ErrorLog:      zap.NewStdLog(a.log),
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
}

// handle registers a route with what it asks of the caller. Every route
// goes through here, so none can be added without saying who may use it.
func (a *API) handle(pattern string, n need, h http.Handler) {
	a.needs[pattern] = n
	a.mux.Handle(pattern, a.authorized(n, h))
}

// unrouted answers a request no pattern matched with a JSON error: 405
// (keeping the mux's Allow header) or 404.
func (a *API) unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &headerOnly{header: w.Header()}
	h.ServeHTTP(probe, r) // the mux's own 404/405 handler: learn which, keep Allow
	if probe.status == http.StatusMethodNotAllowed {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
			Code:    string(domain.CodeInvalidArgument),
			Message: "method " + r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + w.Header().Get("Allow") + ")",
		}})
		return
	}
	a.writeError(w, r, domain.Errorf(domain.CodeNotFound, "httpapi", "no route for %s %s", r.Method, r.URL.Path))
}

// headerOnly records a status and discards the body.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(code int)        { h.status = code }

// ServeHTTP recovers handler panics into a 500 JSON error and logs each
// request at debug level.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log.Error("handler panic", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Any("panic", p), zap.Stack("stack"))
			if !sw.wrote {
				a.writeError(sw, r, domain.Errorf(domain.CodeInternal, "httpapi", "internal error: %v", p))
			}
		}
		// Checked first: the fields would cost an allocation per request
		// even with debug logging off.
		if ce := a.log.Check(zap.DebugLevel, "http request"); ce != nil {
			ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", sw.status), zap.Duration("duration", time.Since(start)))
		}
	}()
	if !a.hostAllowed(sw, r) || !a.cors(sw, r) || !jsonBodyRequired(sw, r) {
		return
	}
	// A request that no route takes needs a key too (the zero need): who
	// has none learns nothing, not even which routes exist.
	h, pattern := a.mux.Handler(r)
	if a.needs[pattern] != needNothing {
		var ok bool
		if r, ok = a.authenticate(sw, r); !ok {
			return
		}
	}
	if pattern == "" {
		a.unrouted(sw, r, h)
		return
	}
	a.mux.ServeHTTP(sw, r) // (Handler does not set path values; ServeHTTP does)
}

// CloseStreams ends every open change feed (and refuses new ones). The
// server calls it when shutdown begins.
func (a *API) CloseStreams() {
	a.closeOnce.Do(func() { close(a.closing) })
}

// withTimeout bounds a handler's context by RequestTimeout.
func (a *API) withTimeout(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.opts.RequestTimeout)
		defer cancel()
		h(w, r.WithContext(ctx))
	}
}

// statusWriter remembers the status for the access log. Unwrap lets
// http.ResponseController reach the underlying writer's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush is here too because promhttp and others test for http.Flusher directly.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
