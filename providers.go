package entgldb

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/httpapi"
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/adapters/tcp"
	"github.com/entgldb/entgldb-go/adapters/telemetry"
	"github.com/entgldb/entgldb-go/adapters/udp"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func provideStore(ctx context.Context, cfg config.Config, logger *zap.Logger) (*sqlite.Store, func(), error) {
	p := cfg.Persistence
	if dir := filepath.Dir(p.DatabasePath); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil { // the database is the owner's alone
			return nil, nil, domain.Errorf(domain.CodePersistence, "open database", "cannot create directory %s: %w", dir, err)
		}
	}
	st, err := sqlite.Open(ctx, sqlite.Options{
		Path:                    p.DatabasePath,
		EnableWAL:               p.EnableWalMode,
		BatchSize:               cfg.Sync.BatchSize,
		Logger:                  logger.Named("sqlite"),
		AutoRestoreOnCorruption: p.AutoRestoreOnCorruption,
		BackupDir:               p.BackupPath,
	})
	if err != nil {
		return nil, nil, err
	}
	return st, func() {
		if err := st.Close(); err != nil {
			logger.Error("closing database", zap.Error(err))
		}
	}, nil
}

// provideClock builds the node's HLC; app.NewDatabase restores it from the
// store before anything issues a stamp.
func provideClock(cfg config.Config, id nodeID) *domain.Clock {
	return domain.NewClock(string(id), func() int64 { return time.Now().UnixMilli() }, int64(cfg.Sync.MaxClockDriftMs))
}

func provideCache(cfg config.Config) *cache.Cache {
	return cache.New(int64(cfg.Persistence.CacheSizeMb) << 20)
}

func provideMetrics(reg *prometheus.Registry, c *cache.Cache) *telemetry.Metrics {
	return telemetry.NewMetrics(reg, c.Stats)
}

func provideResolver(cfg config.Config) (domain.Resolver, error) {
	return domain.ResolverByName(cfg.Sync.ConflictResolution)
}

// provideOutbox is the hand-off of local commits from the database to the
// sync engine.
func provideOutbox() *app.Outbox { return app.NewOutbox(0) }

func provideDatabase(store ports.Store, c *cache.Cache, clock *domain.Clock, r domain.Resolver, outbox *app.Outbox, m *telemetry.Metrics,
	cfg config.Config, logger *zap.Logger) (*app.Database, func(), error) {
	db, err := app.NewDatabase(store, c, clock, logger.Named("db"), app.DatabaseOptions{
		MaxDocumentBytes: cfg.Persistence.MaxDocumentBytes,
		Resolver:         r,
		Outbox:           outbox,
		Observer:         m,
	})
	if err != nil {
		return nil, nil, err
	}
	return db, db.Close, nil
}

// providePeerClocks keeps what peers confirm holding in the database's meta table.
func providePeerClocks(store ports.Store) *app.PeerClocks { return app.NewPeerClocks(store) }

func provideQueue(store ports.Store, clocks *app.PeerClocks, id nodeID, m *telemetry.Metrics, cfg config.Config, logger *zap.Logger) *app.OfflineQueue {
	return app.NewOfflineQueue(store, clocks, string(id), app.QueueOptions{
		Enabled:  cfg.Sync.EnableOfflineQueue,
		MaxSize:  cfg.Sync.MaxQueueSize,
		Observer: m,
	}, logger.Named("queue"))
}

func provideStatus(id nodeID, q *app.OfflineQueue, c *cache.Cache, m *telemetry.Metrics, disc *udp.Discovery, maint *app.Maintenance) *app.StatusTracker {
	return app.NewStatusTracker(string(id), app.StatusOptions{QueueLen: q.Len, CacheStats: c.Stats, Observer: m, Discovery: disc,
		Replication: m, Storage: maint.Report})
}

// provideMaintenance compacts the oplog by what known peers hold (the
// discovered ones count from the first pass that sees them).
func provideMaintenance(id nodeID, store *sqlite.Store, clocks *app.PeerClocks, q *app.OfflineQueue, r domain.Resolver, disc *udp.Discovery,
	m *telemetry.Metrics, cfg config.Config, logger *zap.Logger) *app.Maintenance {
	mc := cfg.Maintenance
	return app.NewMaintenance(store, clocks, app.MaintenanceOptions{
		Interval:           mc.Interval(),
		OplogRetention:     mc.OplogRetention(),
		TombstoneRetention: mc.TombstoneRetention(),
		Resolver:           r,
		Peers:              disc.Peers,
		Observer:           m,
		Compacted:          q.Recount,
		Self:               string(id),
	}, logger.Named("maintenance"))
}

// network answers the health check's questions about the sync listener and
// discovery.
type network struct {
	server           *tcp.Server
	discovery        *udp.Discovery
	discoveryEnabled bool
	openCluster      bool
}

func (n network) state() app.NetworkState {
	return app.NetworkState{
		ListenerUp:        n.server.Listening(),
		DiscoveryEnabled:  n.discoveryEnabled,
		DiscoveryRunning:  n.discovery.Running(),
		OpenCluster:       n.openCluster,
		HandshakesRefused: int64(n.server.Stats().Refused()),
	}
}

func provideHealth(store ports.Store, db *app.Database, status *app.StatusTracker, c *cache.Cache, server *tcp.Server, disc *udp.Discovery,
	cfg config.Config, logger *zap.Logger) *app.HealthCheck {
	return app.NewHealthCheck(store, status, logger.Named("health"), app.HealthOptions{
		Network: network{server: server, discovery: disc, discoveryEnabled: cfg.Network.EnableDiscovery,
			openCluster: cfg.Security.OpenCluster}.state,
		CacheStats:    c.Stats,
		CheckInterval: time.Duration(cfg.Health.CheckIntervalMinutes) * time.Minute,
		WriteFailure:  db.WriteFailure,
		InsecureHTTP:  cfg.InsecureHTTP(),
	})
}

func provideBackups(store *sqlite.Store, m *telemetry.Metrics, cfg config.Config, logger *zap.Logger) *app.BackupService {
	p := cfg.Persistence
	var every time.Duration
	if p.EnableAutoBackup {
		every = time.Duration(p.BackupIntervalMinutes) * time.Minute
	}
	return app.NewBackupService(store, logger.Named("backup"), app.BackupOptions{
		Dir:      p.BackupPath,
		Keep:     p.BackupKeep,
		Interval: every,
		Observer: m,
	})
}

func provideExecutor(cfg config.Config, m *telemetry.Metrics, logger *zap.Logger) *retry.Executor {
	return retry.New(retry.Options{
		RetryAttempts:  cfg.Network.RetryAttempts,
		RetryDelayMs:   cfg.Network.RetryDelayMs,
		AttemptTimeout: 2 * time.Duration(cfg.Network.ConnectionTimeoutMs) * time.Millisecond,
		Observer:       retryObserver{m},
	}, logger.Named("retry"))
}

// retryObserver counts retries and breaker transitions in the metrics.
type retryObserver struct{ m *telemetry.Metrics }

func (o retryObserver) OnRetry(peer string)               { o.m.Retry(peer) }
func (o retryObserver) OnBreakerState(peer, state string) { o.m.BreakerState(peer, state) }

// provideTrust is what the sync plane proves and checks on every connection
// (SECURITY.md): the cluster secret as Noise PSK, the node's identity key,
// the peers' first-seen keys kept in the store, and the listed legacy peers.
func provideTrust(cfg config.Config, ident protocol.Identity, store *sqlite.Store) tcp.Trust {
	return tcp.Trust{
		PSK:         protocol.DerivePSK([]byte(cfg.AuthToken)),
		Identity:    ident,
		PeerKeys:    store,
		LegacyToken: cfg.AuthToken,
		LegacyPeers: cfg.Security.LegacyPeers,
	}
}

func provideDialer(cfg config.Config, trust tcp.Trust, exec *retry.Executor, logger *zap.Logger) (*tcp.Dialer, func()) {
	d := tcp.NewDialer(tcp.DialerOptions{
		Trust:          trust,
		Secure:         cfg.Network.Secure,
		Compression:    cfg.Network.Compression,
		ConnectTimeout: time.Duration(cfg.Network.ConnectionTimeoutMs) * time.Millisecond,
		MaxFrameBytes:  cfg.Network.MaxFrameBytes,
		// A family peer's answers only: Go peers page theirs.
		MaxResponseBytes: cfg.Network.MaxResponseBytes,
	}, exec, logger.Named("dialer"))
	return d, func() { _ = d.Close() }
}

// provideSyncService answers peers; the identity key signs the entries
// this node authors (SECURITY.md, "Authors are proven").
func provideSyncService(db *app.Database, store ports.Store, clock *domain.Clock, status *app.StatusTracker, ident protocol.Identity,
	cfg config.Config, logger *zap.Logger) (*app.SyncService, error) {
	return app.NewSyncService(db, store, clock, status, logger.Named("sync"), app.SyncOptions{
		BatchSize:    cfg.Sync.BatchSize,
		MaxPageBytes: pageBytes(cfg),
		Identity:     ident.Private,
		AcceptLegacy: len(cfg.Security.LegacyPeers) > 0,
	})
}

// pageBytes caps sync pages and pushes at half the frame limit (at most
// domain.DefaultMaxPageBytes), so a page always fits in a frame the peer
// accepts.
func pageBytes(cfg config.Config) int {
	return min(domain.DefaultMaxPageBytes, cfg.Network.MaxFrameBytes/2)
}

func provideTCPServer(cfg config.Config, trust tcp.Trust, svc *app.SyncService, reg *prometheus.Registry,
	disc *udp.Discovery, logger *zap.Logger) (*tcp.Server, error) {
	s, err := tcp.NewServer(tcp.ServerOptions{
		Trust:                  trust,
		BindAddress:            cfg.Network.BindAddress,
		Port:                   cfg.Network.TcpPort,
		Secure:                 cfg.Network.Secure,
		Compression:            cfg.Network.Compression,
		MaxConnections:         cfg.Network.MaxConnections,
		MaxFrameBytes:          cfg.Network.MaxFrameBytes,
		MaxPreAuthPerSource:    cfg.Security.MaxPreAuthPerSource,
		MaxConcurrentSnapshots: cfg.Security.MaxConcurrentSnapshots,
	}, svc, logger.Named("tcp"))
	if err != nil {
		return nil, err
	}
	if err := telemetry.RegisterSyncPlane(reg, telemetry.SyncPlane{
		OpenCluster:       cfg.Security.OpenCluster,
		HandshakesRefused: func() map[string]int64 { return refusedByReason(s.Stats()) },
		Beacons:           func() map[string]int64 { return beaconsByOutcome(disc.Stats()) },
	}); err != nil {
		return nil, domain.Wrap(domain.CodeInternal, "provideTCPServer", err)
	}
	return s, nil
}

func refusedByReason(st tcp.Stats) map[string]int64 {
	return map[string]int64{
		"wrong_key": int64(st.RefusedWrongKey), "legacy_not_allowed": int64(st.RefusedLegacy),
		"identity_mismatch": int64(st.RefusedIdentity), "bad_proof": int64(st.RefusedBadProof),
		"self": int64(st.RefusedSelf), "malformed": int64(st.RefusedMalformed), "timeout": int64(st.RefusedTimeout),
	}
}

func beaconsByOutcome(st udp.Stats) map[string]int64 {
	return map[string]int64{
		"accepted": int64(st.Accepted), "malformed": int64(st.DroppedMalformed), "bad_mac": int64(st.DroppedBadMAC),
		"stale": int64(st.DroppedStale), "over_cap": int64(st.DroppedOverCap),
	}
}

func provideDiscovery(cfg config.Config, id nodeID, logger *zap.Logger) (*udp.Discovery, error) {
	return udp.NewDiscovery(udp.Options{
		NodeID:           string(id),
		AuthToken:        cfg.AuthToken,
		TCPPort:          cfg.Network.TcpPort,
		UDPPort:          cfg.Network.UdpPort,
		BindAddress:      cfg.Network.BindAddress,
		BroadcastAddress: cfg.Network.BroadcastAddress,
		StaticPeers:      cfg.Network.StaticPeers,
		Disabled:         !cfg.Network.EnableDiscovery,
		FamilyPort:       cfg.Network.FamilyUdpPort,
	}, logger.Named("discovery"))
}

func provideSyncEngine(db *app.Database, store ports.Store, dialer *tcp.Dialer, exec *retry.Executor, disc *udp.Discovery,
	q *app.OfflineQueue, clocks *app.PeerClocks, status *app.StatusTracker, clock *domain.Clock, outbox *app.Outbox, ident protocol.Identity,
	cfg config.Config, id nodeID, logger *zap.Logger) (*app.SyncEngine, error) {
	return app.NewSyncEngine(app.SyncEngineDeps{Database: db, Store: store, Dialer: dialer, Executor: exec,
		Clock: clock, Outbox: outbox, Discovery: disc, Queue: q, PeerClocks: clocks, Status: status, Logger: logger.Named("sync")},
		app.EngineOptions{
			NodeID:       string(id),
			Interval:     time.Duration(cfg.Sync.IntervalMs) * time.Millisecond,
			Fanout:       cfg.Sync.Fanout,
			BatchSize:    cfg.Sync.BatchSize,
			StaticPeers:  cfg.Network.StaticPeers,
			MaxPushBytes: pageBytes(cfg),
			Identity:     ident.Private,
			AcceptLegacy: len(cfg.Security.LegacyPeers) > 0,
		})
}

// documents adapts app.Database to the HTTP API's consumer interface.
type documents struct{ *app.Database }

func (d documents) Batch(ctx context.Context, collection string, puts map[string][]byte, deletes []string) (map[string]domain.Timestamp, error) {
	return d.Database.Batch(ctx, collection, app.Batch{Puts: puts, Deletes: deletes})
}

// PutExpiring implements httpapi.ExpiringDocuments.
func (d documents) PutExpiring(ctx context.Context, collection, key string, body []byte, ifVersion *domain.Timestamp, expiresAt time.Time) (domain.Timestamp, error) {
	return d.Database.PutWith(ctx, collection, key, body, app.PutOptions{IfVersion: ifVersion, ExpiresAt: expiresAt})
}

// BatchExpiring implements httpapi.ExpiringDocuments.
func (d documents) BatchExpiring(ctx context.Context, collection string, puts map[string][]byte, deletes []string, expiresAt time.Time) (map[string]domain.Timestamp, error) {
	return d.Database.Batch(ctx, collection, app.Batch{Puts: puts, Deletes: deletes, ExpiresAt: expiresAt})
}

var _ httpapi.ExpiringDocuments = documents{}

type changes struct{ db *app.Database }

func (c changes) Watch(ctx context.Context, since int64) (httpapi.ChangeStream, error) {
	return c.db.Watch(ctx, since)
}

func provideHTTP(cfg config.Config, db *app.Database, status *app.StatusTracker, health *app.HealthCheck,
	store *sqlite.Store, server *tcp.Server, backups *app.BackupService, reg *prometheus.Registry, keys httpapi.Keys,
	clocks *app.PeerClocks, id nodeID, logger *zap.Logger) (*httpapi.Server, error) {
	if !cfg.Http.Enabled {
		return nil, nil
	}
	ui, err := dashboard(cfg, keys, logger)
	if err != nil {
		return nil, err
	}
	opts := httpapi.Options{
		Documents: documents{db},
		Changes:   changes{db},
		Status:    func(ctx context.Context) (ports.SyncStatus, error) { return status.Snapshot(ctx), nil },
		Peers:     func(context.Context) ([]ports.PeerStatus, error) { return status.Peers(), nil },
		Health:    health.Check,
		Ready: func(ctx context.Context) error {
			if !server.Listening() {
				return domain.Errorf(domain.CodeNetwork, "ready", "sync listener is not up")
			}
			return store.Ping(ctx)
		},
		Backup: func(ctx context.Context) (string, int64, error) {
			f, err := backups.BackupNow(ctx)
			return f.Path, f.Bytes, err
		},
		Metrics:          reg,
		Logger:           logger.Named("http"),
		MaxDocumentBytes: cfg.Persistence.MaxDocumentBytes,
		AllowedHosts:     httpapi.AllowedHosts(cfg.Http.Address, cfg.Http.AllowedHosts),
		AllowedOrigins:   cfg.Http.AllowedOrigins,
		MaxChangeFeeds:   cfg.Http.MaxChangeFeeds,
		Keys:             keys,
		PublicMetrics:    cfg.Http.PublicMetrics,
		Views:            dashboardViews(id, store, clocks, backups, reg),
	}
	if ui != nil {
		opts.UI, opts.Sessions = ui, ui
	}
	api := httpapi.New(opts)
	srv := httpapi.NewServer(cfg.Http.Address, api, logger.Named("http"))
	srv.SetMaxConnections(cfg.Http.MaxConnections)
	if err := serveTLS(srv, cfg, logger.Named("http")); err != nil {
		return nil, err
	}
	return srv, nil
}

// provideNode lists the components in start order; they stop in reverse.
func provideNode(id nodeID, db *app.Database, status *app.StatusTracker, health *app.HealthCheck, store *sqlite.Store,
	server *tcp.Server, disc *udp.Discovery, engine *app.SyncEngine, backups *app.BackupService, maint *app.Maintenance,
	httpSrv *httpapi.Server, logger *zap.Logger) *app.Node {
	comps := []app.Component{
		// Last to stop before the store closes: make the WAL's content part
		// of the main file so a copied database file is complete on its own.
		app.ComponentFunc{ComponentName: "checkpoint", StopFunc: store.Checkpoint},
		server,
		disc,
		engine,
		health,
		backups,
		maint,
	}
	if httpSrv != nil {
		comps = append(comps, httpSrv)
	}
	return app.NewNode(string(id), db, status, health, logger, comps...)
}
