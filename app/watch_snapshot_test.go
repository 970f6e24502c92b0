package app_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func applySnapshot(t *testing.T, db *app.Database, store ports.Store, docs ...domain.Document) ports.ApplyResult {
	t.Helper()
	sn, ok := store.(ports.Snapshotter)
	require.True(t, ok)
	res, err := db.ApplySnapshot(t.Context(), sn, domain.Snapshot{Documents: docs})
	require.NoError(t, err)
	return res
}

// A subscriber open when a snapshot lands gets one Seq 0 change per
// document it changed (a tombstone as a delete); resumers by Seq still get
// exactly the oplog, each entry once.
func TestWatchSnapshotChanges(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	put(t, e.db, "a") // Seq 1
	put(t, e.db, "b") // Seq 2
	live, err := e.db.Watch(ctx, -1)
	require.NoError(t, err)
	defer live.Close()

	remote := newClock("nodeB")
	res := applySnapshot(t, e.db, e.store,
		domain.Document{Collection: "c", Key: "a", Stamp: remote.Now(), Deleted: true},
		domain.Document{Collection: "c", Key: "s1", Data: []byte(`{"s":1}`), Stamp: remote.Now()},
		// Older than the local b: loses, so no change.
		domain.Document{Collection: "c", Key: "b", Data: []byte(`{"old":1}`), Stamp: domain.Timestamp{Wall: 1, Node: "nodeB"}},
	)
	require.Len(t, res.Changed, 2)
	require.Empty(t, res.Applied, "snapshot documents do not enter the oplog")
	put(t, e.db, "after") // Seq 3

	got := recv(t, live, 3)
	snapChanges := map[string]domain.Change{}
	for _, c := range got[:2] {
		assert.Zero(t, c.Seq, "a snapshot change has no oplog position")
		assert.True(t, c.Remote)
		snapChanges[c.Key] = c
	}
	require.Contains(t, snapChanges, "a")
	require.Contains(t, snapChanges, "s1")
	assert.Equal(t, domain.OpDelete, snapChanges["a"].Op)
	assert.Nil(t, snapChanges["a"].Data)
	assert.Equal(t, domain.OpPut, snapChanges["s1"].Op)
	assert.JSONEq(t, `{"s":1}`, string(snapChanges["s1"].Data))
	assert.Equal(t, int64(3), got[2].Seq)
	assert.Equal(t, "after", got[2].Key)

	// Resumers see the oplog only: Seq 1, 2, 3, then live writes.
	fromStart, err := e.db.Watch(ctx, 0)
	require.NoError(t, err)
	defer fromStart.Close()
	fromTwo, err := e.db.Watch(ctx, 2)
	require.NoError(t, err)
	defer fromTwo.Close()
	put(t, e.db, "z") // Seq 4
	all := recv(t, fromStart, 4)
	assertSeqsIncrease(t, all)
	assert.Equal(t, int64(1), all[0].Seq)
	assert.Equal(t, int64(4), all[3].Seq)
	tail := recv(t, fromTwo, 2)
	assert.Equal(t, []int64{3, 4}, []int64{tail[0].Seq, tail[1].Seq})
	assert.Equal(t, int64(4), recv(t, live, 1)[0].Seq)
}

// A subscriber still replaying the oplog when a snapshot lands gets the
// snapshot's changes after the entries committed before it and before
// those committed after it, even when its Database has published nothing
// yet (the oplog's end is then looked up in the store).
func TestWatchSnapshotWhileReplayingKeepsOrder(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	const n = 300 // more than a replay page: the second page is read after the snapshot
	b := app.Batch{Puts: map[string][]byte{}}
	for i := range n {
		b.Puts[fmt.Sprintf("k%03d", i)] = []byte(`{}`)
	}
	_, err := e.db.Batch(ctx, "c", b)
	require.NoError(t, err)

	// A Database restarted over the same store: it knows no Seq yet.
	db, err := app.NewDatabase(e.store, cache.New(1<<20), newClock("nodeA"), zap.NewNop(), app.DatabaseOptions{WatchBuffer: 64})
	require.NoError(t, err)
	defer db.Close()
	sub, err := db.Watch(ctx, 0)
	require.NoError(t, err)
	defer sub.Close()
	// Not read yet: the subscriber is replaying, blocked on its first event.
	remote := newClock("nodeB")
	applySnapshot(t, db, e.store,
		domain.Document{Collection: "c", Key: "k000", Data: []byte(`{"snap":1}`), Stamp: remote.Now()},
		domain.Document{Collection: "c", Key: "new", Data: []byte(`{"snap":1}`), Stamp: remote.Now()},
	)
	put(t, db, "k000") // Seq n+1, newer than the snapshot's k000

	got := recv(t, sub, n+3)
	assertSeqsIncrease(t, got[:n])
	assert.Equal(t, int64(1), got[0].Seq)
	assert.Equal(t, int64(n), got[n-1].Seq)
	assert.ElementsMatch(t, []string{"k000", "new"}, []string{got[n].Key, got[n+1].Key})
	assert.Zero(t, got[n].Seq)
	assert.Zero(t, got[n+1].Seq)
	assert.Equal(t, int64(n+1), got[n+2].Seq, "the write after the snapshot comes last")
	assert.Equal(t, "k000", got[n+2].Key)
}

// A replaying subscriber whose buffer overflows while snapshot changes are
// queued cannot get them back from the oplog: it is cut off (QUEUE_FULL)
// after the oplog entries rather than silently missing them.
func TestWatchSnapshotOverflowWhileReplayingCutsOff(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{WatchBuffer: 2})
	ctx := t.Context()
	for i := range 5 {
		put(t, e.db, fmt.Sprintf("k%d", i))
	}
	sub, err := e.db.Watch(ctx, 0)
	require.NoError(t, err)
	defer sub.Close()
	remote := newClock("nodeB")
	docs := make([]domain.Document, 3)
	for i := range docs {
		docs[i] = domain.Document{Collection: "c", Key: fmt.Sprintf("s%d", i), Data: []byte(`{}`), Stamp: remote.Now()}
	}
	applySnapshot(t, e.db, e.store, docs...)

	got := drainClosed(t, sub)
	require.Len(t, got, 5)
	assertSeqsIncrease(t, got)
	assert.ErrorIs(t, sub.Err(), domain.ErrQueueFull)
}
