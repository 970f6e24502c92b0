package app_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// storeFactories are the stores the app tests run against: the promise
// that adapters swap is tested here too.
var storeFactories = map[string]func(t testing.TB) ports.Store{
	"sqlite": newSQLiteStore,
	"memory": func(testing.TB) ports.Store { return memory.New() },
}

func newSQLiteStore(t testing.TB) ports.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "entgldb.db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func wallClock() int64 { return time.Now().UnixMilli() }

func newClock(node string) *domain.Clock { return domain.NewClock(node, wallClock, 60_000) }

type env struct {
	db    *app.Database
	store ports.Store
	clock *domain.Clock
}

func newEnv(t testing.TB, newStore func(testing.TB) ports.Store, cacheBytes int64, opts app.DatabaseOptions) env {
	t.Helper()
	store := newStore(t)
	clock := newClock("nodeA")
	db, err := app.NewDatabase(store, cache.New(cacheBytes), clock, zap.NewNop(), opts)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return env{db: db, store: store, clock: clock}
}

// forEachStore runs f once per store adapter.
func forEachStore(t *testing.T, f func(t *testing.T, newStore func(testing.TB) ports.Store)) {
	for name, newStore := range storeFactories {
		t.Run(name, func(t *testing.T) { f(t, newStore) })
	}
}

// remoteAuthor produces sealed entries of another node's hash chain.
type remoteAuthor struct {
	clock *domain.Clock
	prev  string
}

func newRemoteAuthor(node string) *remoteAuthor { return &remoteAuthor{clock: newClock(node)} }

func (a *remoteAuthor) entry(collection, key string, op domain.Op, data string) domain.Entry {
	e := domain.Entry{Collection: collection, Key: key, Op: op, Stamp: a.clock.Now()}
	if op == domain.OpPut {
		e.Data = []byte(data)
	}
	e.Seal(a.prev)
	a.prev = e.Hash
	return e
}
