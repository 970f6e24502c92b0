package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// fakeTime is a settable wall clock.
type fakeTime struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func TestStatusTracker(t *testing.T) {
	clock := &fakeTime{t: time.UnixMilli(1_000_000)}
	cs := ports.CacheStats{Hits: 3, Misses: 1, Entries: 2, Bytes: 100, MaxBytes: 1000}
	st := app.NewStatusTracker("me", app.StatusOptions{
		Now:        clock.Now,
		QueueLen:   func(context.Context) (int, error) { return 7, nil },
		CacheStats: func() ports.CacheStats { return cs },
	})
	st.SetOnline(true)
	st.ObservePeer(domain.Peer{NodeID: "b", Address: "10.0.0.2:5000", Source: domain.PeerDiscovered, LastSeen: 999_000})
	st.SetPeerConnected("b", "", true)
	st.RecordSyncSuccess("b", "10.0.0.2:5000", 10, 2048)
	clock.Advance(time.Second)
	st.RecordSyncFailure("a", "10.0.0.1:5000", domain.Errorf(domain.CodeTimeout, "tcp.Dial", "no answer"))

	s := st.Snapshot(t.Context())
	assert.Equal(t, "me", s.NodeID)
	assert.True(t, s.Online)
	assert.Equal(t, int64(1_000_000), s.LastSuccessfulSync)
	assert.Equal(t, int64(10), s.DocumentsSynced)
	assert.Equal(t, int64(2048), s.BytesSynced)
	assert.Equal(t, 7, s.OfflineQueueLen)
	assert.Equal(t, 0.75, s.Cache.HitRate)
	assert.Equal(t, int64(1000), s.Cache.MaxBytes)
	require.Len(t, s.Peers, 2)
	assert.Equal(t, ports.PeerStatus{NodeID: "a", Address: "10.0.0.1:5000", FailedSyncs: 1,
		ConsecutiveFailures: 1, FailingSince: 1_001_000, LastError: "no answer", Unreachable: true}, s.Peers[0])
	assert.Equal(t, ports.PeerStatus{NodeID: "b", Address: "10.0.0.2:5000", Source: "discovered", Connected: true,
		LastSeen: 1_000_000, SuccessfulSyncs: 1}, s.Peers[1])
	require.Len(t, s.RecentErrors, 1)
	assert.Equal(t, ports.ErrorRecord{Time: 1_001_000, Code: "TIMEOUT_ERROR", Message: "no answer", Peer: "a"}, s.RecentErrors[0])
	assert.Equal(t, 1, st.ConnectedPeers())

	st.SetPeerConnected("b", "", false)
	assert.Zero(t, st.ConnectedPeers())
	st.ForgetPeer("a")
	assert.Len(t, st.Peers(), 1)
}

func TestStatusTrackerKeepsLast50ErrorsNewestFirst(t *testing.T) {
	st := app.NewStatusTracker("me", app.StatusOptions{})
	for i := range 120 {
		st.RecordError(fmt.Sprint("p", i), fmt.Errorf("failure %d", i))
	}
	st.RecordError("", nil) // ignored
	errs := st.RecentErrors()
	require.Len(t, errs, app.MaxRecentErrors)
	for i, e := range errs {
		assert.Equal(t, fmt.Sprintf("failure %d", 119-i), e.Message)
		assert.Equal(t, "INTERNAL_ERROR", e.Code, "a foreign error has no domain code")
	}
}

func TestStatusTrackerQueueErrorIsRecorded(t *testing.T) {
	st := app.NewStatusTracker("me", app.StatusOptions{
		QueueLen: func(context.Context) (int, error) { return 0, domain.Errorf(domain.CodePersistence, "q", "locked") },
	})
	s := st.Snapshot(t.Context())
	assert.Zero(t, s.OfflineQueueLen)
	require.Len(t, s.RecentErrors, 1)
	assert.Equal(t, "PERSISTENCE_ERROR", s.RecentErrors[0].Code)
}

func TestStatusTrackerConcurrentUse(t *testing.T) {
	st := app.NewStatusTracker("me", app.StatusOptions{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				peer := fmt.Sprint("p", i%5)
				switch (g + i) % 4 {
				case 0:
					st.RecordSyncSuccess(peer, "addr", 1, 10)
				case 1:
					st.RecordSyncFailure(peer, "addr", errors.New("x"))
				case 2:
					st.SetPeerConnected(peer, "addr", i%2 == 0)
				default:
					_ = st.Snapshot(t.Context())
				}
			}
		})
	}
	wg.Wait()
	s := st.Snapshot(t.Context())
	var succ, fail int64
	for _, p := range s.Peers {
		succ += p.SuccessfulSyncs
		fail += p.FailedSyncs
	}
	assert.Equal(t, int64(200), succ)
	assert.Equal(t, int64(200), fail)
	assert.Equal(t, int64(200), s.DocumentsSynced)
}

// fakeDB is a store that answers pings and quick checks as told.
type fakeDB struct {
	mu               sync.Mutex
	pingErr, checkEr error
	pings, checks    int
}

func (f *fakeDB) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings++
	return f.pingErr
}

func (f *fakeDB) CheckIntegrity(_ context.Context, deep bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if deep {
		panic("the health check must use the quick check")
	}
	f.checks++
	return f.checkEr
}

func (f *fakeDB) set(ping, check error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pingErr, f.checkEr = ping, check
}

func TestHealthCheck(t *testing.T) {
	corrupt := domain.Errorf(domain.CodeCorruption, "sqlite.CheckIntegrity", "page 7: btree corrupt")
	cases := []struct {
		name        string
		ping, check error
		net         *app.NetworkState
		healthy     bool
		dbOK, netOK bool
		errorPrefix string
	}{
		{name: "all fine, no peers", healthy: true, dbOK: true, netOK: true,
			net: &app.NetworkState{ListenerUp: true, DiscoveryEnabled: true, DiscoveryRunning: true}},
		{name: "embedded, no network", healthy: true, dbOK: true, netOK: true},
		{name: "discovery off by config", healthy: true, dbOK: true, netOK: true,
			net: &app.NetworkState{ListenerUp: true}},
		{name: "ping fails", ping: errors.New("database is closed"), dbOK: false, netOK: true, errorPrefix: "database: "},
		{name: "quick check fails", check: corrupt, dbOK: false, netOK: true, errorPrefix: "database: page 7"},
		{name: "listener down", dbOK: true, errorPrefix: "network: the sync listener",
			net: &app.NetworkState{ListenerUp: false}},
		{name: "discovery stopped", dbOK: true, errorPrefix: "network: discovery",
			net: &app.NetworkState{ListenerUp: true, DiscoveryEnabled: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := &fakeDB{pingErr: tc.ping, checkEr: tc.check}
			var opts app.HealthOptions
			if tc.net != nil {
				n := *tc.net
				opts.Network = func() app.NetworkState { return n }
			}
			h := app.NewHealthCheck(db, app.NewStatusTracker("me", app.StatusOptions{}), nil, opts)
			r := h.Check(t.Context())
			assert.Equal(t, tc.healthy, r.IsHealthy)
			assert.Equal(t, tc.dbOK, r.DatabaseHealthy)
			assert.Equal(t, tc.netOK, r.NetworkHealthy)
			assert.Zero(t, r.ConnectedPeers)
			if tc.errorPrefix != "" {
				require.NotEmpty(t, r.Errors)
				assert.Contains(t, r.Errors[0], tc.errorPrefix)
			} else {
				assert.Empty(t, r.Errors)
				assert.NotNil(t, r.Errors, "an empty list, not null, in JSON")
			}
		})
	}
}

func TestHealthCheckCachesDatabaseResultAndListsRecentErrors(t *testing.T) {
	clock := &fakeTime{t: time.UnixMilli(5_000_000)}
	db := &fakeDB{}
	st := app.NewStatusTracker("me", app.StatusOptions{Now: clock.Now})
	h := app.NewHealthCheck(db, st, nil, app.HealthOptions{DatabaseCheckTTL: 10 * time.Second, Now: clock.Now})
	require.True(t, h.Check(t.Context()).IsHealthy)
	db.set(errors.New("gone"), nil)
	assert.True(t, h.Check(t.Context()).DatabaseHealthy, "within the TTL the last result is reused")
	assert.Equal(t, 1, db.pings)
	clock.Advance(11 * time.Second)
	assert.False(t, h.Check(t.Context()).DatabaseHealthy)
	assert.Equal(t, 2, db.pings)

	db.set(nil, nil)
	clock.Advance(11 * time.Second)
	st.SetPeerConnected("b", "addr", true)
	st.RecordSyncSuccess("b", "addr", 1, 1)
	st.RecordError("b", domain.Errorf(domain.CodeSync, "x", "first"))
	st.RecordError("c", domain.Errorf(domain.CodeNetwork, "x", "second"))
	r := h.Check(t.Context())
	assert.True(t, r.IsHealthy, "peer errors do not make the node unhealthy")
	assert.Equal(t, 1, r.ConnectedPeers)
	assert.Equal(t, clock.Now().UnixMilli(), r.LastSync)
	require.Len(t, r.Errors, 2)
	assert.Contains(t, r.Errors[0], "NETWORK_ERROR: second (peer c)", "newest first")
	assert.Contains(t, r.Errors[1], "SYNC_ERROR: first")
}

func TestHealthRunPeriodicWarnsAndHintsOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	db := &fakeDB{pingErr: errors.New("disk gone")}
	var mu sync.Mutex
	stats := ports.CacheStats{}
	h := app.NewHealthCheck(db, nil, zap.New(core), app.HealthOptions{
		DatabaseCheckTTL: time.Nanosecond,
		MinCacheRequests: 10,
		CacheStats: func() ports.CacheStats {
			mu.Lock()
			defer mu.Unlock()
			// Every interval: 2 hits, 18 misses (hit rate 0.1).
			stats.Hits += 2
			stats.Misses += 18
			return stats
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.RunPeriodic(ctx, time.Millisecond)
	}()
	require.Eventually(t, func() bool {
		return logs.FilterMessage("node unhealthy").Len() >= 3
	}, 5*time.Second, time.Millisecond)
	cancel()
	<-done

	warn := logs.FilterMessage("node unhealthy").All()[0]
	assert.Equal(t, zap.WarnLevel, warn.Level)
	assert.Contains(t, fmt.Sprint(warn.ContextMap()["errors"]), "disk gone")
	hints := logs.FilterMessageSnippet("Persistence.CacheSizeMb").All()
	require.Len(t, hints, 1, "the hint is logged once")
	assert.Equal(t, zap.InfoLevel, hints[0].Level)
	assert.InDelta(t, 0.1, hints[0].ContextMap()["hit_rate"], 1e-9)
}

func TestHealthRunPeriodicNoHintWhenCacheIsFine(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var mu sync.Mutex
	stats := ports.CacheStats{}
	ticks := 0
	h := app.NewHealthCheck(&fakeDB{}, nil, zap.New(core), app.HealthOptions{
		MinCacheRequests: 10,
		CacheStats: func() ports.CacheStats {
			mu.Lock()
			defer mu.Unlock()
			ticks++
			stats.Hits += 90
			stats.Misses += 10
			return stats
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.RunPeriodic(ctx, time.Millisecond)
	}()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ticks >= 5
	}, 5*time.Second, time.Millisecond)
	cancel()
	<-done
	assert.Zero(t, logs.Len(), "healthy with a good hit rate: nothing to say")
}

// fakeDiscovery lists a fixed set of peers.
type fakeDiscovery struct {
	mu    sync.Mutex
	peers []domain.Peer
}

func (f *fakeDiscovery) Peers() []domain.Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]domain.Peer(nil), f.peers...)
}

func TestStatusPeersFollowDiscovery(t *testing.T) {
	disc := &fakeDiscovery{peers: []domain.Peer{
		{NodeID: "b", Address: "10.0.0.2:5000", Source: domain.PeerDiscovered, LastSeen: 100},
		{Address: "10.0.0.9:5000", Source: domain.PeerStatic},
	}}
	st := app.NewStatusTracker("a", app.StatusOptions{Discovery: disc})
	st.RecordSyncSuccess("b", "10.0.0.2:5000", 3, 300)
	st.SetPeerConnected("b", "10.0.0.2:5000", true)
	// The static peer's id is learnt from its handshake: matched by address.
	st.RecordSyncFailure("s", "10.0.0.9:5000", errors.New("refused"))
	// A peer that dialled us and is connected, unknown to discovery.
	st.SetPeerConnected("inbound", "10.0.0.7:41000", true)

	peers := st.Peers()
	require.Len(t, peers, 3)
	byID := map[string]ports.PeerStatus{}
	for _, p := range peers {
		byID[p.NodeID] = p
	}
	require.Equal(t, "discovered", byID["b"].Source)
	require.True(t, byID["b"].Connected)
	require.EqualValues(t, 1, byID["b"].SuccessfulSyncs)
	require.Equal(t, "static", byID["s"].Source)
	require.EqualValues(t, 1, byID["s"].FailedSyncs)
	require.True(t, byID["inbound"].Connected)

	// b stops beaconing and expires from discovery: it leaves the list.
	disc.mu.Lock()
	disc.peers = disc.peers[1:]
	disc.mu.Unlock()
	st.SetPeerConnected("b", "10.0.0.2:5000", false)
	for _, p := range st.Peers() {
		require.NotEqual(t, "b", p.NodeID, "an expired peer is forgotten")
	}
}
