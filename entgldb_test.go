package entgldb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	entgldb "github.com/entgldb/entgldb-go"
)

// openLocal opens a node on LocalConfig in a temporary directory, closed
// when the test ends.
func openLocal(t *testing.T) *entgldb.DB {
	t.Helper()
	db, err := entgldb.Open(t.Context(), entgldb.Options{Config: entgldb.LocalConfig(t.TempDir())})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func TestLocalConfigIsValidAndKeepsToItself(t *testing.T) {
	dir := t.TempDir()
	cfg := entgldb.LocalConfig(dir)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "127.0.0.1", cfg.Network.BindAddress)
	assert.Zero(t, cfg.Network.TcpPort, "a free port, so nodes do not collide")
	assert.False(t, cfg.Network.EnableDiscovery)
	assert.False(t, cfg.Http.Enabled)
	assert.Contains(t, cfg.Persistence.DatabasePath, dir)
	assert.Contains(t, cfg.Persistence.BackupPath, dir)
}

// The facade end to end: typed writes and reads, a query, the change feed,
// the read-only views, and a Close that leaves no goroutine behind.
func TestDBOpenUseClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	// Two nodes from LocalConfig run side by side.
	db, err := entgldb.Open(ctx, entgldb.Options{Config: entgldb.LocalConfig(t.TempDir())})
	require.NoError(t, err)
	other, err := entgldb.Open(ctx, entgldb.Options{Config: entgldb.LocalConfig(t.TempDir())})
	require.NoError(t, err)
	require.NotEqual(t, db.ID(), other.ID())
	require.NoError(t, other.Close())

	sub, err := db.Watch(ctx, -1)
	require.NoError(t, err)
	users := db.Collection("users")
	_, _, err = entgldb.Put(ctx, users, user{Handle: "ada", Name: "Ada", Age: 36})
	require.NoError(t, err)
	_, _, err = entgldb.Put(ctx, users, user{Handle: "bob", Name: "Bob", Age: 20})
	require.NoError(t, err)

	ada, _, err := entgldb.Get[user](ctx, users, "ada")
	require.NoError(t, err)
	assert.Equal(t, "Ada", ada.Name)
	adults, err := entgldb.Find[user](ctx, users, entgldb.Query{Filter: entgldb.Cmp{Op: entgldb.OpGt, Path: "age", Value: 30.0}})
	require.NoError(t, err)
	assert.Equal(t, []user{ada}, adults)
	filter, err := entgldb.ParseFilter([]byte(`{"age": {"$lt": 30}}`))
	require.NoError(t, err)
	n, err := users.Count(ctx, filter)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	_, err = users.Get(ctx, "nobody")
	assert.True(t, errors.Is(err, entgldb.ErrNotFound))
	assert.Equal(t, entgldb.CodeNotFound, entgldb.CodeOf(err))

	select {
	case c := <-sub.C():
		assert.Equal(t, "ada", c.Key)
		assert.Equal(t, entgldb.OpPut, c.Op)
	case <-time.After(10 * time.Second):
		t.Fatal("no change event")
	}
	sub.Close()

	names, err := db.Collections(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"users"}, names)
	assert.Equal(t, db.ID(), db.Status(ctx).NodeID)
	assert.True(t, db.Health(ctx).DatabaseHealthy)

	require.NoError(t, db.Close())
	require.NoError(t, db.Close(), "closing twice is harmless")
}
