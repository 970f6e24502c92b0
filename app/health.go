package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// NetworkState is what the network side reports to the health check.
type NetworkState struct {
	ListenerUp       bool
	DiscoveryEnabled bool
	DiscoveryRunning bool
	// OpenCluster: the sync plane admits anyone (Security.OpenCluster).
	OpenCluster bool
	// HandshakesRefused counts refused sync connections since start.
	HandshakesRefused int64
}

// HealthOptions configure a HealthCheck. Zero values take the defaults.
type HealthOptions struct {
	// Network reports the sync listener and discovery (nil: no network,
	// which counts as healthy: an embedded, offline database).
	Network func() NetworkState
	// CacheStats feeds the cache hit-rate hint of RunPeriodic (nil: none).
	CacheStats func() ports.CacheStats
	// DatabaseCheckTTL is how long a database check result is reused, so a
	// busy /healthz does not run quick_check on every request (default 10s).
	DatabaseCheckTTL time.Duration
	// MaxErrors bounds the recent errors listed in a report (default 10).
	MaxErrors int
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// MinCacheRequests is how many cache lookups an interval needs before
	// its hit rate is judged (default 100).
	MinCacheRequests int64
	// CheckInterval is how often the running component checks health
	// (RunPeriodic between Start and Stop); <= 0: no periodic check.
	CheckInterval time.Duration
	// WriteFailure reports the store's last refused write (Database.
	// WriteFailure): a disk that refuses writes makes the node unhealthy
	// even while reads, and so the database check, still succeed (nil: not
	// watched).
	WriteFailure func() *WriteFailure
	// InsecureHTTP: the HTTP API serves plain HTTP on a non-loopback
	// address (Http.AllowInsecure); deliberate, so a warning, not an error.
	InsecureHTTP bool
	// ReplicationStuckAfter bounds how long a peer may fail to replicate
	// with us (see peerProblems) before the node reports itself unhealthy;
	// refusals older than it are no longer listed (default 10 min).
	ReplicationStuckAfter time.Duration
}

// HealthCheck answers "is this node fine?" (GET /healthz) from the database
// (ping + quick_check when the store supports it), the network and the
// status tracker. A node with no peers is healthy when its database and
// listener are fine. Safe for concurrent use.
type HealthCheck struct {
	db     ports.Pinger
	status *StatusTracker
	log    *zap.Logger
	opts   HealthOptions

	mu        sync.Mutex
	dbChecked time.Time
	dbErr     error

	hintOnce  sync.Once
	lastCache ports.CacheStats // guarded by mu; the previous interval's counters

	periodic loop
}

// NewHealthCheck builds a health check over db (which may also implement
// ports.IntegrityChecker) and status (may be nil).
func NewHealthCheck(db ports.Pinger, status *StatusTracker, logger *zap.Logger, opts HealthOptions) *HealthCheck {
	if logger == nil {
		logger = zap.NewNop()
	}
	if opts.DatabaseCheckTTL <= 0 {
		opts.DatabaseCheckTTL = 10 * time.Second
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinCacheRequests <= 0 {
		opts.MinCacheRequests = 100
	}
	if opts.ReplicationStuckAfter <= 0 {
		opts.ReplicationStuckAfter = 10 * time.Minute
	}
	return &HealthCheck{db: db, status: status, log: logger, opts: opts}
}

// Check builds a health report. Errors lists the current problems first,
// then the status tracker's recent errors, newest first.
func (h *HealthCheck) Check(ctx context.Context) ports.HealthReport {
	r := ports.HealthReport{Errors: []string{}, Warnings: []string{}}
	if err := h.checkDatabase(ctx); err != nil {
		r.Errors = append(r.Errors, "database: "+domain.Message(err))
	} else {
		r.DatabaseHealthy = true
	}
	if h.opts.WriteFailure != nil {
		if f := h.opts.WriteFailure(); f != nil {
			r.DatabaseHealthy = false
			r.Errors = append(r.Errors, fmt.Sprintf("disk: writes are failing (since %s): %s",
				f.Since.UTC().Format(time.RFC3339), domain.Message(f.Err)))
		}
	}
	if h.opts.InsecureHTTP {
		r.InsecureHTTP = true
		r.Warnings = append(r.Warnings, "security: the HTTP API serves plain HTTP on a non-loopback address (Http.AllowInsecure): anyone on the path can read the traffic, API keys included")
	}
	r.NetworkHealthy = true
	if h.opts.Network != nil {
		n := h.opts.Network()
		if !n.ListenerUp {
			r.NetworkHealthy = false
			r.Errors = append(r.Errors, "network: the sync listener is not up")
		}
		if n.DiscoveryEnabled && !n.DiscoveryRunning {
			r.NetworkHealthy = false
			r.Errors = append(r.Errors, "network: discovery is enabled but not running")
		}
		r.OpenCluster, r.HandshakesRefused = n.OpenCluster, n.HandshakesRefused
		if n.OpenCluster {
			r.Warnings = append(r.Warnings, "security: open cluster (Security.OpenCluster): anyone who reaches the sync port can read and write every document")
		}
	}
	if h.status != nil {
		problems, stuck := h.peerProblems(h.status.refusedPeers(), h.status.Peers())
		r.Errors = append(r.Errors, problems...)
		r.ReplicationStuck = stuck
		r.ConnectedPeers = h.status.ConnectedPeers()
		r.LastSync = h.status.LastSync()
		recent := h.status.RecentErrors()
		for i := 0; i < len(recent) && i < h.opts.MaxErrors; i++ {
			e := recent[i]
			msg := fmt.Sprintf("%s %s: %s", time.UnixMilli(e.Time).UTC().Format(time.RFC3339), e.Code, e.Message)
			if e.Peer != "" {
				msg += " (peer " + e.Peer + ")"
			}
			r.Errors = append(r.Errors, msg)
		}
	}
	r.IsHealthy = r.DatabaseHealthy && r.NetworkHealthy && !r.ReplicationStuck
	return r
}

// peerProblems lists, per peer, the entries of its we refused lately
// (refused: every peer with refusals) and whether we cannot replicate with
// it (known: the peers known now); stuck is true when one of those has
// failed for longer than ReplicationStuckAfter. The rule: a peer that
// sends entries we refuse is listed but leaves the node healthy (everything
// else flows, and the fault is at the source); a peer we reach but have
// been unable to replicate with for longer than the bound (its rounds fail,
// or it does not apply what we push) makes the node unhealthy, because
// replication is stuck, not just slow: a short outage only lists it. A peer
// that does not answer at all (switched off, out of range) is only listed:
// an offline-first node is not broken because a peer is away.
func (h *HealthCheck) peerProblems(refused, known []ports.PeerStatus) (problems []string, stuck bool) {
	now := h.opts.Now().UnixMilli()
	bound := h.opts.ReplicationStuckAfter.Milliseconds()
	for _, p := range refused {
		if now-p.LastRefused >= bound {
			continue
		}
		for _, cause := range slices.Sorted(maps.Keys(p.Refused)) {
			problems = append(problems, fmt.Sprintf("peer %s: %d entries refused (%s)",
				peerLabel(p.NodeID, p.Address), p.Refused[cause], cause))
		}
	}
	for _, p := range known {
		if p.ConsecutiveFailures > 0 {
			what := "cannot replicate"
			if p.Unreachable {
				what = "unreachable"
			}
			problems = append(problems, fmt.Sprintf("peer %s: %s: %s (%d attempts failed since %s)",
				peerLabel(p.NodeID, p.Address), what, p.LastError, p.ConsecutiveFailures,
				time.UnixMilli(p.FailingSince).UTC().Format(time.RFC3339)))
			stuck = stuck || (!p.Unreachable && now-p.FailingSince > bound)
		}
	}
	return problems, stuck
}

// checkDatabase pings the store and runs its quick check, reusing a result
// younger than DatabaseCheckTTL.
func (h *HealthCheck) checkDatabase(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Now()
	if !h.dbChecked.IsZero() && now.Sub(h.dbChecked) < h.opts.DatabaseCheckTTL {
		return h.dbErr
	}
	var err error
	switch {
	case h.db == nil:
		err = domain.Errorf(domain.CodePersistence, "health.Check", "no database")
	default:
		err = h.db.Ping(ctx)
		if ic, ok := h.db.(ports.IntegrityChecker); ok && err == nil {
			err = ic.CheckIntegrity(ctx, false)
		}
	}
	if ctx.Err() != nil {
		// A caller that gave up says nothing about the database: don't
		// cache that.
		return err
	}
	h.dbChecked, h.dbErr = now, err
	return err
}

// Name names the periodic check among a node's components.
func (h *HealthCheck) Name() string { return "health check" }

// Start runs RunPeriodic every CheckInterval on a goroutine the check owns
// until Stop (nothing with no interval).
func (h *HealthCheck) Start(context.Context) error {
	if every := h.opts.CheckInterval; every > 0 {
		h.periodic.start(func(ctx context.Context) { h.RunPeriodic(ctx, every) })
	}
	return nil
}

// Stop ends the periodic check and waits for it within ctx.
func (h *HealthCheck) Stop(ctx context.Context) error {
	return h.periodic.stop(ctx, "health.Stop")
}

// RunPeriodic checks health every interval until ctx ends, logging a warning
// with the errors when the node is unhealthy, and once an info hint when the
// cache hit rate over an interval fell under 0.5. It blocks; its caller owns
// the goroutine.
func (h *HealthCheck) RunPeriodic(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	h.mu.Lock()
	if h.opts.CacheStats != nil {
		h.lastCache = h.opts.CacheStats()
	}
	h.mu.Unlock()
	tickEvery(ctx, every, h.tick)
}

// tick is one round of RunPeriodic.
func (h *HealthCheck) tick(ctx context.Context) {
	r := h.Check(ctx)
	if !r.IsHealthy {
		h.log.Warn("node unhealthy",
			zap.Bool("database_healthy", r.DatabaseHealthy),
			zap.Bool("network_healthy", r.NetworkHealthy),
			zap.Bool("replication_stuck", r.ReplicationStuck),
			zap.Int("connected_peers", r.ConnectedPeers),
			zap.Strings("errors", r.Errors))
	}
	if h.opts.CacheStats == nil {
		return
	}
	cur := h.opts.CacheStats()
	h.mu.Lock()
	prev := h.lastCache
	h.lastCache = cur
	h.mu.Unlock()
	delta := ports.CacheStats{Hits: cur.Hits - prev.Hits, Misses: cur.Misses - prev.Misses}
	if delta.Hits+delta.Misses >= h.opts.MinCacheRequests && delta.HitRate() < 0.5 {
		h.hintOnce.Do(func() {
			h.log.Info("document cache hit rate is low; consider raising Persistence.CacheSizeMb",
				zap.Float64("hit_rate", delta.HitRate()),
				zap.Int64("cache_bytes", cur.Bytes),
				zap.Int64("cache_max_bytes", cur.MaxBytes),
				zap.Int64("evictions", cur.Evictions))
		})
	}
}
