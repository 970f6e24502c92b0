package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// maintEnv is a database with n updates of one key and a deleted key,
// and the maintenance of its store.
type maintEnv struct {
	env
	clocks *app.PeerClocks
}

func newMaintEnv(t *testing.T, newStore func(testing.TB) ports.Store, updates int) maintEnv {
	e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
	c := e.db.Collection("c")
	for i := range updates {
		_, err := c.Put(t.Context(), "k", fmt.Appendf(nil, `{"i":%d}`, i))
		require.NoError(t, err)
	}
	_, err := c.Put(t.Context(), "gone", []byte(`{}`))
	require.NoError(t, err)
	_, err = c.Delete(t.Context(), "gone")
	require.NoError(t, err)
	_, err = c.Put(t.Context(), "last", []byte(`{}`)) // the author's head
	require.NoError(t, err)
	return maintEnv{env: e, clocks: app.NewPeerClocks(e.store)}
}

func (e maintEnv) maintenance(opts app.MaintenanceOptions) *app.Maintenance {
	return app.NewMaintenance(e.store.(app.MaintenanceStore), e.clocks, opts, zap.NewNop())
}

func (e maintEnv) ownClock(t *testing.T) domain.VectorClock {
	vc, err := e.store.VectorClock(t.Context())
	require.NoError(t, err)
	return vc
}

func TestMaintenanceCompactsWhatEveryKnownPeerHolds(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newMaintEnv(t, newStore, 10)
		e.clocks.Observe("P", e.ownClock(t))
		m := e.maintenance(app.MaintenanceOptions{})
		res, err := m.RunOnce(t.Context())
		require.NoError(t, err)
		// 9 older versions of k, and gone's put; the young tombstone stays.
		require.Equal(t, ports.CompactionResult{EntriesRemoved: 10, BytesRemoved: res.BytesRemoved}, res)
		got, err := e.db.Collection("c").Get(t.Context(), "k")
		require.NoError(t, err)
		require.JSONEq(t, `{"i":9}`, string(got.Data))
		rep := m.Report(t.Context())
		require.Equal(t, int64(3), rep.OplogEntries, "k's value, gone's tombstone, the head")
		require.Equal(t, int64(1), rep.Tombstones)
		require.Equal(t, int64(10), rep.EntriesRemoved)
		require.NotZero(t, rep.LastMaintenance)
	})
}

func TestMaintenanceKeepsWhatAPeerLacksUntilTheRetention(t *testing.T) {
	e := newMaintEnv(t, storeFactories["memory"], 10)
	e.clocks.Observe("P", domain.VectorClock{}) // P holds nothing of ours
	now := time.Now()
	clock := func() time.Time { return now }
	m := e.maintenance(app.MaintenanceOptions{OplogRetention: time.Hour, TombstoneRetention: time.Minute, Now: clock})
	res, err := m.RunOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, res.EntriesRemoved)
	require.Equal(t, []string{"P"}, e.clocks.Known())

	// Two hours on, P has been away longer than the retention: it is
	// forgotten, and with it what it held back, tombstone included.
	now = now.Add(2 * time.Hour)
	res, err = m.RunOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 11, res.EntriesRemoved)
	require.Equal(t, 1, res.TombstonesRemoved)
	require.Empty(t, e.clocks.Known(), "a peer away past the retention is forgotten")
}

func TestMaintenancePeerBookPeersHoldNothing(t *testing.T) {
	e := newMaintEnv(t, storeFactories["memory"], 5)
	m := e.maintenance(app.MaintenanceOptions{OplogRetention: time.Hour,
		Peers: func() []domain.Peer { return []domain.Peer{{NodeID: "D", Address: "10.0.0.9:7000"}} }})
	res, err := m.RunOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, res.EntriesRemoved, "a discovered peer we never synced with holds nothing")
	require.Equal(t, []string{"D"}, e.clocks.Known())
}

func TestMaintenanceOffUnderAResolverThatReplays(t *testing.T) {
	e := newMaintEnv(t, storeFactories["memory"], 5)
	m := e.maintenance(app.MaintenanceOptions{Resolver: domain.RecursiveMerge{}})
	res, err := m.RunOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, res.EntriesRemoved, "a merge replay needs every entry: compaction would change documents")
	require.NotEmpty(t, m.Report(t.Context()).CompactionOff)
}

func TestMaintenanceRunsOnItsIntervalAndStops(t *testing.T) {
	e := newMaintEnv(t, storeFactories["memory"], 5)
	m := e.maintenance(app.MaintenanceOptions{Interval: 10 * time.Millisecond})
	require.NoError(t, m.Start(t.Context()))
	require.Eventually(t, func() bool { return m.Report(t.Context()).EntriesRemoved == 5 }, 5*time.Second, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Stop(ctx))
}

func TestPeerClocksKeepLastSeenAcrossRestarts(t *testing.T) {
	store := storeFactories["memory"](t)
	clocks := app.NewPeerClocks(store)
	clocks.Observe("P", domain.VectorClock{"A": {Wall: 5, Node: "A"}})
	clocks.Notice([]string{"Q"}, time.Now())
	require.NoError(t, clocks.Save(t.Context()))

	again := app.NewPeerClocks(store)
	require.NoError(t, again.Load(t.Context()))
	require.Equal(t, []string{"P", "Q"}, again.Known())
	own := domain.VectorClock{"A": {Wall: 9, Node: "A"}}
	require.Empty(t, again.HeldByAll(own, time.Now(), time.Hour), "Q holds nothing")
	require.Equal(t, own, again.HeldByAll(own, time.Now().Add(2*time.Hour), time.Hour), "both forgotten")
	require.NoError(t, again.Save(t.Context()))

	third := app.NewPeerClocks(store)
	require.NoError(t, third.Load(t.Context()))
	require.Empty(t, third.Known(), "forgetting is kept")
	third.Notice([]string{"Q"}, time.Now())
	require.Empty(t, third.Known(), "the peer book does not bring a forgotten peer back as new")
}

func TestStatusShowsStorageAndMaintenance(t *testing.T) {
	e := newMaintEnv(t, storeFactories["sqlite"], 3)
	m := e.maintenance(app.MaintenanceOptions{})
	_, err := m.RunOnce(t.Context())
	require.NoError(t, err)
	st := app.NewStatusTracker("nodeA", app.StatusOptions{Storage: m.Report}).Snapshot(t.Context())
	require.Equal(t, int64(3), st.Storage.OplogEntries)
	require.Equal(t, int64(1), st.Storage.Tombstones)
	require.Positive(t, st.Storage.DiskBytes)
	require.Equal(t, 3, st.Storage.LastRemoved.EntriesRemoved)
	require.NotZero(t, st.Storage.LastMaintenance)
}

func TestMaintenanceMakesTheQueueRecount(t *testing.T) {
	e := newMaintEnv(t, storeFactories["sqlite"], 10)
	q := app.NewOfflineQueue(e.store, e.clocks, "nodeA", app.QueueOptions{Enabled: true}, zap.NewNop())
	n, err := q.Len(t.Context())
	require.NoError(t, err)
	require.Equal(t, 13, n, "a lone node: every local change is unconfirmed")
	m := e.maintenance(app.MaintenanceOptions{Compacted: q.Recount})
	res, err := m.RunOnce(t.Context())
	require.NoError(t, err)
	n, err = q.Len(t.Context())
	require.NoError(t, err)
	require.Equal(t, 13-res.EntriesRemoved, n, "the count follows what the oplog still holds")
}
