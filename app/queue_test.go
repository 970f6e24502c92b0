package app_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

// queueEnv is a node's database with its offline queue over a real SQLite
// file, and a log that records warnings.
type queueEnv struct {
	env
	clocks *app.PeerClocks
	queue  *app.OfflineQueue
	logs   *observer.ObservedLogs
}

func newQueueEnv(t *testing.T, opts app.QueueOptions) queueEnv {
	t.Helper()
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	core, logs := observer.New(zap.WarnLevel)
	clocks := app.NewPeerClocks(e.store)
	q := app.NewOfflineQueue(e.store, clocks, "nodeA", opts, zap.New(core))
	return queueEnv{env: e, clocks: clocks, queue: q, logs: logs}
}

func (e queueEnv) put(t *testing.T, n int) []domain.Timestamp {
	t.Helper()
	var out []domain.Timestamp
	for i := range n {
		stamp, err := e.db.Collection("c").Put(t.Context(), fmt.Sprintf("k%d", i), []byte(`{"v":1}`))
		require.NoError(t, err)
		out = append(out, stamp)
	}
	return out
}

func (e queueEnv) len(t *testing.T) int {
	t.Helper()
	n, err := e.queue.Len(t.Context())
	require.NoError(t, err)
	return n
}

// The queue is what no peer has confirmed: every local change, until a
// peer says it holds them; then only the ones after what it holds.
func TestOfflineQueueCountsWhatNoPeerConfirmed(t *testing.T) {
	e := newQueueEnv(t, app.QueueOptions{Enabled: true, MaxSize: 100})
	stamps := e.put(t, 5)
	require.Equal(t, 5, e.len(t))

	e.clocks.Observe("peer1", domain.VectorClock{"nodeA": stamps[2]})
	require.Equal(t, 2, e.len(t), "the two after what peer1 holds")
	e.put(t, 3)
	require.Equal(t, 5, e.len(t), "new writes count on top of what was counted")
	e.clocks.Observe("peer2", domain.VectorClock{"nodeA": stamps[1]})
	require.Equal(t, 5, e.len(t), "one peer holding more is enough")
	e.clocks.Accepted("peer2", []domain.Entry{{Stamp: stamps[4]}})
	require.Equal(t, 3, e.len(t))
	e.clocks.Observe("peer3", domain.VectorClock{"other": stamps[4]})
	require.Equal(t, 3, e.len(t), "another author's stamp confirms nothing of ours")
}

// A lone node is not failing: passing MaxSize is one warning per crossing,
// the writes are all kept and counted, and nothing is an error.
func TestOfflineQueuePastMaxSizeWarnsOncePerCrossing(t *testing.T) {
	e := newQueueEnv(t, app.QueueOptions{Enabled: true, MaxSize: 3})
	stamps := e.put(t, 2)
	e.queue.Check(t.Context())
	require.Zero(t, e.logs.Len())
	stamps = append(stamps, e.put(t, 4)...)
	for range 3 {
		e.queue.Check(t.Context())
	}
	require.Equal(t, 1, e.logs.Len(), "one warning for one crossing")
	assert.EqualValues(t, 6, e.logs.All()[0].ContextMap()["unconfirmed"])
	require.Equal(t, 6, e.len(t), "nothing dropped, nothing refused")

	e.clocks.Observe("peer", domain.VectorClock{"nodeA": stamps[len(stamps)-1]})
	e.queue.Check(t.Context())
	e.put(t, 3)
	e.queue.Check(t.Context())
	require.Equal(t, 2, e.logs.Len(), "below, then above again: a second crossing")
}

func TestOfflineQueueDisabledCountsNothing(t *testing.T) {
	e := newQueueEnv(t, app.QueueOptions{Enabled: false, MaxSize: 1})
	e.put(t, 3)
	e.queue.Check(t.Context())
	require.Zero(t, e.len(t))
	require.Zero(t, e.logs.Len())
}

// What peers confirmed survives a restart: the clocks are kept in the
// database.
func TestPeerClocksSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entgldb.db")
	s1, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	c1 := app.NewPeerClocks(s1)
	stamp := domain.Timestamp{Wall: 1_700_000_000_000, Logical: 3, Node: "node:A"}
	c1.Observe("peer", domain.VectorClock{"node:A": stamp})
	require.NoError(t, c1.Save(t.Context()))
	require.NoError(t, s1.Close())

	s2, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s2.Close()) })
	c2 := app.NewPeerClocks(s2)
	require.NoError(t, c2.Load(t.Context()))
	require.Equal(t, stamp, c2.Confirmed("node:A"))
	require.True(t, c2.Confirmed("other").IsZero())
}

// A store that cannot count is an error of Len, not a wrong length.
func TestOfflineQueueCountFailureIsAnError(t *testing.T) {
	e := newQueueEnv(t, app.QueueOptions{Enabled: true, MaxSize: 10})
	e.put(t, 1)
	require.NoError(t, e.store.Close())
	_, err := e.queue.Len(t.Context())
	require.Error(t, err)
	require.Equal(t, domain.CodePersistence, domain.CodeOf(err))
}
