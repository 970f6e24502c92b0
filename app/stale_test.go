package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// acked remembers, per key, the newest version whose write was acknowledged.
type acked struct {
	mu sync.Mutex
	v  map[string]domain.Timestamp
}

func (a *acked) note(key string, ts domain.Timestamp) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ts.After(a.v[key]) {
		a.v[key] = ts
	}
}

func (a *acked) floor(key string) domain.Timestamp {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.v[key]
}

// TestNoStaleReads interleaves local writes, remote applies and reads at
// random on a few hot keys, with a cache small enough to evict all the time:
// a read never returns a version older than the newest one acknowledged
// before the read started.
func TestNoStaleReads(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		// ~3 documents of this size fit: evictions race with fills.
		e := newEnv(t, newStore, 300, app.DatabaseOptions{})
		ctx := t.Context()
		keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
		a := &acked{v: map[string]domain.Timestamp{}}
		const rounds = 300

		var wg sync.WaitGroup
		for w := range 2 { // local writers
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for i := range rounds {
					k := keys[r.IntN(len(keys))]
					v, err := e.db.Put(ctx, "c", k, fmt.Appendf(nil, `{"w":%d,"i":%d,"pad":"%040d"}`, w, i, 0), nil)
					if err != nil {
						t.Errorf("put: %v", err)
						return
					}
					a.note(k, v)
				}
			})
		}
		wg.Go(func() { // one remote author, its chain in order
			r := rand.New(rand.NewPCG(99, 2))
			b := newRemoteAuthor("nodeB")
			for range rounds / 3 {
				batch := make([]domain.Entry, 1+r.IntN(3))
				for j := range batch {
					k := keys[r.IntN(len(keys))]
					if r.IntN(4) == 0 {
						batch[j] = b.entry("c", k, domain.OpDelete, "")
					} else {
						batch[j] = b.entry("c", k, domain.OpPut, `{"from":"B"}`)
					}
				}
				if _, err := e.db.ApplyRemote(ctx, batch); err != nil {
					t.Errorf("apply: %v", err)
					return
				}
				for _, en := range batch {
					a.note(en.Key, en.Stamp)
				}
			}
		})
		for rd := range 4 { // readers
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(rd), 3))
				for range rounds * 2 {
					k := keys[r.IntN(len(keys))]
					floor := a.floor(k)
					d, err := e.db.Get(ctx, "c", k)
					switch {
					case domain.CodeOf(err) == domain.CodeNotFound:
						// A delete may be the newest write; it must not be
						// older than the floor either, which the store's
						// own read can tell us.
						continue
					case err != nil:
						t.Errorf("get: %v", err)
						return
					}
					if d.Stamp.Before(floor) {
						t.Errorf("stale read of %s: got %s, %s was acknowledged before the read", k, d.Stamp, floor)
						return
					}
				}
			})
		}
		wg.Wait()

		// Final state: the cache agrees with the store for every key.
		for _, k := range keys {
			want, werr := e.store.Get(ctx, "c", k)
			got, gerr := e.db.Get(ctx, "c", k)
			require.Equal(t, domain.CodeOf(werr), domain.CodeOf(gerr), k)
			if werr == nil {
				require.Equal(t, want.Stamp, got.Stamp, k)
			}
		}
		s := e.db.CacheStats()
		require.Greater(t, s.Evictions, int64(0), "the test must exercise evictions")
	})
}

// pausingStore holds a Get after it read the store, until released: the
// window in which a slow reader holds an old version.
type pausingStore struct {
	ports.Store
	pauseKey string
	reached  chan struct{}
	release  chan struct{}
}

func (s *pausingStore) Get(ctx context.Context, collection, key string) (domain.Document, error) {
	d, err := s.Store.Get(ctx, collection, key)
	if key == s.pauseKey {
		s.reached <- struct{}{}
		<-s.release
	}
	return d, err
}

// mapCache is a cache without the adapter's version check, so the test
// proves the Database's own guard.
type mapCache struct {
	mu sync.Mutex
	m  map[string]domain.Document
}

func (c *mapCache) Get(coll, key string) (domain.Document, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[coll+"/"+key]
	return d, ok
}
func (c *mapCache) Set(d domain.Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[d.Collection+"/"+d.Key] = d
}
func (c *mapCache) Invalidate(coll, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, coll+"/"+key)
}
func (c *mapCache) Stats() ports.CacheStats { return ports.CacheStats{} }

// TestSlowReaderCannotRefillStaleCache plays the race deterministically: a
// reader misses and reads version 1 from the store; a write of version 2 is
// acknowledged and then evicted from the cache; the reader resumes. It must
// not put version 1 back in the cache.
func TestSlowReaderCannotRefillStaleCache(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, db *app.Database) error
	}{
		{"local write", func(ctx context.Context, db *app.Database) error {
			_, err := db.Put(ctx, "c", "k", []byte(`{"v":2}`), nil)
			return err
		}},
		{"remote apply", func(ctx context.Context, db *app.Database) error {
			b := newRemoteAuthor("nodeB")
			b.clock = domain.NewClock("nodeB", func() int64 { return wallClock() + 5_000 }, 0)
			_, err := db.ApplyRemote(ctx, []domain.Entry{b.entry("c", "k", domain.OpPut, `{"v":2}`)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			store := &pausingStore{Store: newSQLiteStore(t), reached: make(chan struct{}), release: make(chan struct{})}
			c := &mapCache{m: map[string]domain.Document{}}
			db, err := app.NewDatabase(store, c, newClock("nodeA"), nil, app.DatabaseOptions{})
			require.NoError(t, err)
			t.Cleanup(db.Close)
			_, err = db.Put(ctx, "c", "k", []byte(`{"v":1}`), nil)
			require.NoError(t, err)
			c.Invalidate("c", "k") // evicted: the next Get reads the store

			store.pauseKey = "k"
			done := make(chan domain.Document)
			go func() {
				d, err := db.Get(ctx, "c", "k")
				if err != nil {
					t.Errorf("slow get: %v", err)
				}
				done <- d
			}()
			<-store.reached // the reader holds version 1
			require.NoError(t, tc.write(ctx, db))
			c.Invalidate("c", "k") // version 2 evicted before the reader resumes
			store.pauseKey = ""
			close(store.release)
			old := <-done
			assert.JSONEq(t, `{"v":1}`, string(old.Data), "the slow read itself began before the write")

			d, err := db.Get(ctx, "c", "k")
			require.NoError(t, err)
			assert.JSONEq(t, `{"v":2}`, string(d.Data), "a read after the acknowledged write saw the older version")
		})
	}
}
