package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// gatedStore records the writes of every Commit, can hold the first
// commit until released, and fails the commits it is told to fail.
type gatedStore struct {
	ports.Store
	entered chan struct{} // closed when the first commit has begun
	release chan struct{} // the first commit waits for it

	mu    sync.Mutex
	calls [][]ports.Write
	fail  func(call int) bool // nil: none fails
}

func newGatedStore(s ports.Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan struct{}), release: make(chan struct{})}
}

// newGatedDatabase is a Database over a gatedStore of s whose commits
// fail where fail says (nil: none).
func newGatedDatabase(t *testing.T, s ports.Store, fail func(call int) bool) (*app.Database, *gatedStore) {
	t.Helper()
	g := newGatedStore(s)
	g.fail = fail
	db, err := app.NewDatabase(g, nil, newClock("n1"), nil, app.DatabaseOptions{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db, g
}

func (g *gatedStore) Commit(ctx context.Context, r domain.Resolver, writes ...ports.Write) ([]domain.Entry, error) {
	g.mu.Lock()
	call := len(g.calls)
	g.calls = append(g.calls, append([]ports.Write(nil), writes...))
	fail := g.fail != nil && g.fail(call)
	g.mu.Unlock()
	if call == 0 {
		close(g.entered)
		<-g.release
	}
	if fail {
		return nil, domain.Errorf(domain.CodePersistence, "fake.Commit", "disk I/O error")
	}
	return g.Store.Commit(ctx, r, writes...)
}

func (g *gatedStore) commitSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	sizes := make([]int, len(g.calls))
	for i, c := range g.calls {
		sizes[i] = len(c)
	}
	return sizes
}

// holdFirstCommit starts a Put that commits alone and stays in the store
// until g.release is closed; it returns the Put's outcome channel.
func holdFirstCommit(t *testing.T, db *app.Database, g *gatedStore) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := db.Put(context.Background(), "c", "first", []byte(`{"n":0}`), nil)
		done <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first commit never reached the store")
	}
	return done
}

// waitQueued waits until n Puts wait in the group-commit queue.
func waitQueued(t *testing.T, db *app.Database, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return app.QueuedWrites(db) == n }, 10*time.Second, time.Millisecond,
		"%d writes should have queued behind the commit in flight", n)
}

type putResult struct {
	key     string
	version domain.Timestamp
	err     error
}

func queuePuts(ctx context.Context, db *app.Database, keys []string) <-chan putResult {
	out := make(chan putResult, len(keys))
	for i, k := range keys {
		go func() {
			v, err := db.Put(ctx, "c", k, fmt.Appendf(nil, `{"n":%d}`, i+1), nil)
			out <- putResult{k, v, err}
		}()
	}
	return out
}

func keysN(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return keys
}

// Puts that arrive while a commit is in flight are committed together in
// the next transaction, and each is acknowledged with its own version.
func TestPutsArrivingDuringACommitShareTheNext(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		db, g := newGatedDatabase(t, newStore(t), nil)
		sub, err := db.Watch(t.Context(), -1)
		require.NoError(t, err)
		defer sub.Close()
		first := holdFirstCommit(t, db, g)
		keys := keysN("k", 8)
		results := queuePuts(t.Context(), db, keys)
		waitQueued(t, db, len(keys))
		close(g.release)
		require.NoError(t, <-first)
		versions := map[string]domain.Timestamp{}
		for range keys {
			r := <-results
			require.NoError(t, r.err, r.key)
			versions[r.key] = r.version
		}
		assert.Equal(t, []int{1, len(keys)}, g.commitSizes(), "one commit for the first Put, one for the eight that queued")
		for _, k := range keys {
			d, err := db.Get(t.Context(), "c", k)
			require.NoError(t, err, k)
			assert.Equal(t, versions[k], d.Stamp, "%s: the acknowledged version is the stored one", k)
		}
		// Change events: one per write, in commit order, Seq and stamp rising together.
		var prev domain.Change
		for i := 0; i < 1+len(keys); i++ {
			select {
			case c := <-sub.C():
				if i > 0 {
					assert.Greater(t, c.Seq, prev.Seq)
					assert.True(t, c.Stamp.After(prev.Stamp), "event %d is stamped after the one before", i)
				}
				prev = c
			case <-time.After(10 * time.Second):
				t.Fatalf("change event %d never came", i)
			}
		}
	})
}

// A failed group transaction fails every write in it, none is stored, and
// the next write commits again.
func TestFailedGroupFailsEveryWriteInIt(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		db, g := newGatedDatabase(t, newStore(t), func(call int) bool { return call == 1 })
		first := holdFirstCommit(t, db, g)
		keys := keysN("f", 5)
		results := queuePuts(t.Context(), db, keys)
		waitQueued(t, db, len(keys))
		close(g.release)
		require.NoError(t, <-first)
		for range keys {
			r := <-results
			require.ErrorIs(t, r.err, domain.ErrPersistence, r.key)
			_, err := db.Get(t.Context(), "c", r.key)
			require.ErrorIs(t, err, domain.ErrNotFound, "%s was not written", r.key)
		}
		require.NotNil(t, db.WriteFailure(), "the failure is the disk's")
		_, err := db.Put(t.Context(), "c", "after", []byte(`{}`), nil)
		require.NoError(t, err, "the lead was released after the failed group")
		assert.Equal(t, []int{1, len(keys), 1}, g.commitSizes())
	})
}

// Writes with a precondition commit alone: a failed precondition fails
// only its own write, never the unconditional Puts that waited beside it.
func TestConditionalWritesAreNotGrouped(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		db, g := newGatedDatabase(t, newStore(t), nil)
		first := holdFirstCommit(t, db, g)
		keys := keysN("u", 3)
		results := queuePuts(t.Context(), db, keys)
		waitQueued(t, db, len(keys))
		conflict := make(chan error, 1)
		go func() {
			// "first" exists once the held commit ends: create-only fails.
			_, err := db.Put(t.Context(), "c", "first", []byte(`{}`), &domain.Timestamp{})
			conflict <- err
		}()
		missing := make(chan error, 1)
		go func() {
			_, err := db.Delete(t.Context(), "c", "missing")
			missing <- err
		}()
		close(g.release)
		require.NoError(t, <-first)
		for range keys {
			r := <-results
			require.NoError(t, r.err, r.key)
		}
		require.ErrorIs(t, <-conflict, domain.ErrConflict)
		require.ErrorIs(t, <-missing, domain.ErrNotFound)
		g.mu.Lock()
		defer g.mu.Unlock()
		grouped := false
		for _, call := range g.calls {
			for _, w := range call {
				if w.IfVersion != nil || w.MustExist {
					assert.Len(t, call, 1, "a conditional write commits alone")
				}
			}
			grouped = grouped || len(call) == len(keys)
		}
		assert.True(t, grouped, "the unconditional Puts shared one commit: %v", g.calls)
	})
}

// A write whose caller gave up while it waited in the queue is not
// written, and the others of its group are.
func TestQueuedWriteWhoseCallerGaveUpIsDropped(t *testing.T) {
	db, g := newGatedDatabase(t, newSQLiteStore(t), nil)
	first := holdFirstCommit(t, db, g)
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := queuePuts(ctx, db, []string{"gone"})
	waitQueued(t, db, 1)
	kept := queuePuts(t.Context(), db, []string{"kept"})
	waitQueued(t, db, 2)
	cancel()
	close(g.release)
	require.NoError(t, <-first)
	require.ErrorIs(t, (<-gaveUp).err, domain.ErrTimeout)
	require.NoError(t, (<-kept).err)
	_, err := db.Get(t.Context(), "c", "gone")
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = db.Get(t.Context(), "c", "kept")
	require.NoError(t, err)
}

// Many writers at once (run with -race): every write is acknowledged with
// the version the store holds, the oplog's Seq order is its stamp order,
// and the writers shared commits.
func TestConcurrentWritersAllLand(t *testing.T) {
	db, g := newGatedDatabase(t, newSQLiteStore(t), nil)
	close(g.release)
	const writers, each = 16, 40
	var wg sync.WaitGroup
	versions := make([][]domain.Timestamp, writers)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v, err := db.Put(t.Context(), "c", fmt.Sprintf("w%02d-%03d", w, i), fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i), nil)
				if err != nil {
					errs <- err
					return
				}
				versions[w] = append(versions[w], v)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for w := range writers {
		for i, v := range versions[w] {
			d, err := db.Get(t.Context(), "c", fmt.Sprintf("w%02d-%03d", w, i))
			require.NoError(t, err)
			require.Equal(t, v, d.Stamp)
			require.JSONEq(t, fmt.Sprintf(`{"w":%d,"i":%d}`, w, i), string(d.Data))
		}
	}
	entries, err := g.EntriesSinceSeq(t.Context(), 0, 2*writers*each)
	require.NoError(t, err)
	require.Len(t, entries, writers*each)
	for i := 1; i < len(entries); i++ {
		require.True(t, entries[i].Stamp.After(entries[i-1].Stamp), "Seq order is stamp order")
	}
	sizes := g.commitSizes()
	assert.Less(t, len(sizes), writers*each, "some writers shared a commit")
}
