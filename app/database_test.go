package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestPutGetDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		ctx := t.Context()
		users := e.db.Collection("users")

		v1, err := users.Put(ctx, "u1", []byte(`{"name":"Ada"}`))
		require.NoError(t, err)
		assert.Equal(t, "nodeA", v1.Node)

		d, err := users.Get(ctx, "u1")
		require.NoError(t, err)
		assert.JSONEq(t, `{"name":"Ada"}`, string(d.Data))
		assert.Equal(t, v1, d.Stamp)

		v2, err := users.Put(ctx, "u1", []byte(`{"name":"Ada L."}`))
		require.NoError(t, err)
		assert.True(t, v2.After(v1))

		v3, err := users.Delete(ctx, "u1")
		require.NoError(t, err)
		assert.True(t, v3.After(v2))
		_, err = users.Get(ctx, "u1")
		assert.ErrorIs(t, err, domain.ErrNotFound)

		// Deleting again: there is no live document any more.
		_, err = users.Delete(ctx, "u1")
		assert.ErrorIs(t, err, domain.ErrNotFound)

		// A new write revives the key.
		_, err = users.Put(ctx, "u1", []byte(`{"name":"back"}`))
		require.NoError(t, err)
		d, err = users.Get(ctx, "u1")
		require.NoError(t, err)
		assert.JSONEq(t, `{"name":"back"}`, string(d.Data))
	})
}

func TestPutCopiesBodyAndGetReturnsCopy(t *testing.T) {
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	body := []byte(`{"a":1}`)
	_, err := e.db.Put(ctx, "c", "k", body, nil)
	require.NoError(t, err)
	body[5] = '9' // the caller reuses its buffer
	d, err := e.db.Get(ctx, "c", "k")
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(d.Data))
	d.Data[5] = '7' // the caller scribbles on what it got
	d, err = e.db.Get(ctx, "c", "k")
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(d.Data))
}

func TestConditionalPut(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		ctx := t.Context()
		c := e.db.Collection("c")

		// Zero expected version: create only.
		v1, err := c.PutIf(ctx, "k", []byte(`{"n":1}`), domain.Timestamp{})
		require.NoError(t, err)
		_, err = c.PutIf(ctx, "k", []byte(`{"n":2}`), domain.Timestamp{})
		assert.ErrorIs(t, err, domain.ErrConflict)

		v2, err := c.PutIf(ctx, "k", []byte(`{"n":2}`), v1)
		require.NoError(t, err)
		// A stale version loses, and leaves the document alone.
		_, err = c.PutIf(ctx, "k", []byte(`{"n":3}`), v1)
		assert.ErrorIs(t, err, domain.ErrConflict)
		d, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, v2, d.Stamp)
		assert.JSONEq(t, `{"n":2}`, string(d.Data))
	})
}

// TestErrorPaths checks every refusal of the local API by its code.
func TestErrorPaths(t *testing.T) {
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{MaxDocumentBytes: 64})
	ctx := t.Context()
	v, err := e.db.Put(ctx, "c", "exists", []byte(`{}`), nil)
	require.NoError(t, err)
	stale := v
	_, err = e.db.Put(ctx, "c", "exists", []byte(`{"x":1}`), nil)
	require.NoError(t, err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	cases := []struct {
		name string
		call func() error
		want *domain.Error
	}{
		{"put: empty collection", func() error { _, err := e.db.Put(ctx, "", "k", []byte(`{}`), nil); return err }, domain.ErrInvalidArgument},
		{"put: reserved collection", func() error { _, err := e.db.Put(ctx, "_sys", "k", []byte(`{}`), nil); return err }, domain.ErrInvalidArgument},
		{"put: bad collection char", func() error { _, err := e.db.Put(ctx, "a/b", "k", []byte(`{}`), nil); return err }, domain.ErrInvalidArgument},
		{"put: empty key", func() error { _, err := e.db.Put(ctx, "c", "", []byte(`{}`), nil); return err }, domain.ErrInvalidArgument},
		{"put: key too long", func() error {
			_, err := e.db.Put(ctx, "c", strings.Repeat("k", 257), []byte(`{}`), nil)
			return err
		}, domain.ErrInvalidArgument},
		{"put: not an object", func() error { _, err := e.db.Put(ctx, "c", "k", []byte(`[1]`), nil); return err }, domain.ErrInvalidArgument},
		{"put: not JSON", func() error { _, err := e.db.Put(ctx, "c", "k", []byte(`{nope`), nil); return err }, domain.ErrInvalidArgument},
		{"put: too large", func() error {
			_, err := e.db.Put(ctx, "c", "k", []byte(`{"a":"`+strings.Repeat("x", 100)+`"}`), nil)
			return err
		}, domain.ErrTooLarge},
		{"put: stale version", func() error { _, err := e.db.Put(ctx, "c", "exists", []byte(`{}`), &stale); return err }, domain.ErrConflict},
		{"put: create-only on existing", func() error {
			_, err := e.db.Put(ctx, "c", "exists", []byte(`{}`), &domain.Timestamp{})
			return err
		}, domain.ErrConflict},
		{"put: expected version of a missing key", func() error {
			_, err := e.db.Put(ctx, "c", "missing", []byte(`{}`), &stale)
			return err
		}, domain.ErrConflict},
		{"put: canceled context", func() error { _, err := e.db.Put(canceled, "c", "k", []byte(`{}`), nil); return err }, domain.ErrTimeout},
		{"get: missing", func() error { _, err := e.db.Get(ctx, "c", "missing"); return err }, domain.ErrNotFound},
		{"get: bad key", func() error { _, err := e.db.Get(ctx, "c", ""); return err }, domain.ErrInvalidArgument},
		{"get: bad collection", func() error { _, err := e.db.Get(ctx, "", "k"); return err }, domain.ErrInvalidArgument},
		{"delete: missing", func() error { _, err := e.db.Delete(ctx, "c", "missing"); return err }, domain.ErrNotFound},
		{"delete: bad key", func() error { _, err := e.db.Delete(ctx, "c", ""); return err }, domain.ErrInvalidArgument},
		{"batch: bad collection", func() error { _, err := e.db.Batch(ctx, "_x", app.Batch{Deletes: []string{"k"}}); return err }, domain.ErrInvalidArgument},
		{"batch: key put and deleted", func() error {
			_, err := e.db.Batch(ctx, "c", app.Batch{Puts: map[string][]byte{"k": []byte(`{}`)}, Deletes: []string{"k"}})
			return err
		}, domain.ErrInvalidArgument},
		{"batch: key deleted twice", func() error {
			_, err := e.db.Batch(ctx, "c", app.Batch{Deletes: []string{"exists", "exists"}})
			return err
		}, domain.ErrInvalidArgument},
		{"batch: invalid body", func() error {
			_, err := e.db.Batch(ctx, "c", app.Batch{Puts: map[string][]byte{"k": []byte(`3`)}})
			return err
		}, domain.ErrInvalidArgument},
		{"batch: body too large", func() error {
			_, err := e.db.Batch(ctx, "c", app.Batch{Puts: map[string][]byte{"k": []byte(`{"a":"` + strings.Repeat("x", 100) + `"}`)}})
			return err
		}, domain.ErrTooLarge},
		{"batch: delete of a missing key", func() error {
			_, err := e.db.Batch(ctx, "c", app.Batch{Puts: map[string][]byte{"new": []byte(`{}`)}, Deletes: []string{"missing"}})
			return err
		}, domain.ErrNotFound},
		{"find: bad collection", func() error { _, err := e.db.Find(ctx, "", domain.Query{}); return err }, domain.ErrInvalidArgument},
		{"find: negative skip", func() error { _, err := e.db.Find(ctx, "c", domain.Query{Skip: -1}); return err }, domain.ErrInvalidArgument},
		{"count: bad collection", func() error { _, err := e.db.Count(ctx, "a b", nil); return err }, domain.ErrInvalidArgument},
		{"index: empty path", func() error { return e.db.EnsureIndex(ctx, "c", "") }, domain.ErrInvalidArgument},
		{"watch: canceled context", func() error { _, err := e.db.Watch(canceled, 0); return err }, domain.ErrTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			var de *domain.Error
			require.True(t, errors.As(err, &de))
			assert.Equal(t, tc.want.Code, domain.CodeOf(err))
		})
	}
	// The failed batch wrote nothing: "new" is absent.
	_, err = e.db.Get(ctx, "c", "new")
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

func TestNewDatabaseRequiresStoreAndClock(t *testing.T) {
	_, err := app.NewDatabase(nil, nil, newClock("n"), nil, app.DatabaseOptions{})
	assert.ErrorIs(t, err, domain.ErrConfig)
	_, err = app.NewDatabase(newSQLiteStore(t), nil, nil, nil, app.DatabaseOptions{})
	assert.ErrorIs(t, err, domain.ErrConfig)
	// Peers would refuse every entry such a node wrote.
	_, err = app.NewDatabase(memory.New(), nil, newClock(strings.Repeat("n", domain.MaxNodeIDBytes+1)), nil, app.DatabaseOptions{})
	assert.ErrorIs(t, err, domain.ErrConfig)
	assert.ErrorIs(t, err, domain.ErrInvalidArgument)
}

// A local write that no peer would accept is refused at the door: invalid
// UTF-8 in a string (protobuf could never send it) and nesting past the
// limit (SQLite's JSON functions fail on it), alone or in a batch.
func TestLocalWritesNoPeerWouldAcceptAreRefused(t *testing.T) {
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	deep := func(levels int) []byte {
		return []byte(strings.Repeat(`{"a":`, levels) + `1` + strings.Repeat(`}`, levels))
	}
	for name, body := range map[string][]byte{
		"invalid UTF-8 in a string":      []byte("{\"name\":\"\xff\xfe\"}"),
		"invalid UTF-8 in a member name": []byte("{\"\xc3\":1}"),
		"nested past the limit":          deep(domain.MaxNestingDepth + 1),
		"nested 2000 levels":             deep(2000),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.db.Put(ctx, "c", "k", body, nil)
			assert.ErrorIs(t, err, domain.ErrInvalidArgument)
			_, err = e.db.Batch(ctx, "c", app.Batch{Puts: map[string][]byte{"k": body}})
			assert.ErrorIs(t, err, domain.ErrInvalidArgument)
			_, err = e.db.Get(ctx, "c", "k")
			assert.ErrorIs(t, err, domain.ErrNotFound, "nothing was written")
		})
	}
	t.Run("nested to the limit, and queries still work", func(t *testing.T) {
		_, err := e.db.Put(ctx, "q", "deep", deep(domain.MaxNestingDepth), nil)
		require.NoError(t, err)
		_, err = e.db.Put(ctx, "q", "flat", []byte(`{"a":2}`), nil)
		require.NoError(t, err)
		f, err := domain.ParseFilter([]byte(`{"a":{"$gt":1}}`))
		require.NoError(t, err)
		docs, err := e.db.Find(ctx, "q", domain.Query{Filter: f, OrderBy: &domain.Order{Path: "a"}})
		require.NoError(t, err)
		require.Len(t, docs, 1)
		assert.Equal(t, "flat", docs[0].Key)
		docs, err = e.db.Find(ctx, "q", domain.Query{OrderBy: &domain.Order{Path: "a.a", Desc: true}})
		require.NoError(t, err)
		assert.Len(t, docs, 2)
	})
}

func TestNewDatabaseRestoresClock(t *testing.T) {
	store := newSQLiteStore(t)
	// A clock from "the future" wrote the store (a previous run).
	future := domain.NewClock("nodeA", func() int64 { return wallClock() + 3_600_000 }, 0)
	db1, err := app.NewDatabase(store, nil, future, nil, app.DatabaseOptions{})
	require.NoError(t, err)
	v1, err := db1.Put(t.Context(), "c", "k", []byte(`{}`), nil)
	require.NoError(t, err)

	// Restarted with a clock at real time: it must not go backwards.
	clock := newClock("nodeA")
	db2, err := app.NewDatabase(store, nil, clock, nil, app.DatabaseOptions{})
	require.NoError(t, err)
	v2, err := db2.Put(t.Context(), "c", "k", []byte(`{"again":true}`), nil)
	require.NoError(t, err)
	assert.True(t, v2.After(v1), "v2 %s must be after v1 %s", v2, v1)
}

// After a snapshot bootstrap the newest stamps may be in the documents and
// the vector clock only (a snapshot adds nothing to the oplog): a restarted
// database must still never stamp a local write older than what it holds.
func TestNewDatabaseRestoresClockAfterSnapshot(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		store := newStore(t)
		ctx := t.Context()
		ahead := domain.Timestamp{Wall: wallClock() + 10_000, Node: "nodeB"}
		_, err := store.(ports.Snapshotter).ApplySnapshot(ctx, domain.LastWriteWins{}, domain.Snapshot{
			Documents:   []domain.Document{{Collection: "c", Key: "k", Data: []byte(`{"from":"B"}`), Stamp: ahead}},
			Heads:       map[string]string{"nodeB": "00"},
			VectorClock: map[string]domain.Timestamp{"nodeB": ahead},
		})
		require.NoError(t, err)

		db, err := app.NewDatabase(store, nil, newClock("nodeA"), nil, app.DatabaseOptions{})
		require.NoError(t, err)
		v, err := db.Put(ctx, "c", "k", []byte(`{"from":"A"}`), nil)
		require.NoError(t, err)
		assert.True(t, v.After(ahead), "local write %s is older than the bootstrapped %s", v, ahead)
		d, err := db.Get(ctx, "c", "k")
		require.NoError(t, err)
		assert.JSONEq(t, `{"from":"A"}`, string(d.Data))
	})
}

func TestBatchAllOrNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		ctx := t.Context()
		c := e.db.Collection("c")
		_, err := c.Put(ctx, "old", []byte(`{"v":0}`))
		require.NoError(t, err)

		versions, err := c.Batch(ctx, app.Batch{
			Puts:    map[string][]byte{"a": []byte(`{"v":1}`), "b": []byte(`{"v":2}`)},
			Deletes: []string{"old"},
		})
		require.NoError(t, err)
		require.Len(t, versions, 3)
		for k, v := range versions {
			assert.Equal(t, "nodeA", v.Node, k)
		}
		assert.NotEqual(t, versions["a"], versions["b"], "one version each")
		n, err := c.Count(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		_, err = c.Get(ctx, "old")
		assert.ErrorIs(t, err, domain.ErrNotFound)

		// A batch with one bad delete writes nothing, not even its puts.
		_, err = c.Batch(ctx, app.Batch{
			Puts:    map[string][]byte{"a": []byte(`{"v":10}`), "z": []byte(`{"v":26}`)},
			Deletes: []string{"old"},
		})
		require.ErrorIs(t, err, domain.ErrNotFound)
		d, err := c.Get(ctx, "a")
		require.NoError(t, err)
		assert.JSONEq(t, `{"v":1}`, string(d.Data))
		_, err = c.Get(ctx, "z")
		assert.ErrorIs(t, err, domain.ErrNotFound)

		empty, err := c.Batch(ctx, app.Batch{})
		require.NoError(t, err)
		assert.Empty(t, empty)
	})
}

func TestFindCountCollections(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		ctx := t.Context()
		people := e.db.Collection("people")
		for _, p := range []struct{ key, body string }{
			{"p1", `{"name":"a","age":30}`},
			{"p2", `{"name":"b","age":40}`},
			{"p3", `{"name":"c","age":50}`},
		} {
			_, err := people.Put(ctx, p.key, []byte(p.body))
			require.NoError(t, err)
		}
		_, err := e.db.Put(ctx, "other", "x", []byte(`{}`), nil)
		require.NoError(t, err)
		require.NoError(t, people.EnsureIndex(ctx, "age"))

		docs, err := people.Find(ctx, domain.Query{
			Filter:  domain.Cmp{Op: domain.OpGte, Path: "age", Value: 40.0},
			OrderBy: &domain.Order{Path: "age", Desc: true},
		})
		require.NoError(t, err)
		require.Len(t, docs, 2)
		assert.Equal(t, "p3", docs[0].Key)
		assert.Equal(t, "p2", docs[1].Key)

		docs, err = people.Find(ctx, domain.Query{Skip: 1, Take: 1})
		require.NoError(t, err)
		require.Len(t, docs, 1)
		assert.Equal(t, "p2", docs[0].Key)

		n, err := people.Count(ctx, domain.Cmp{Op: domain.OpLt, Path: "age", Value: 45.0})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		// Bounded counts, whether or not the store can stop early.
		for limit, want := range map[int]int{0: 3, 1: 1, 2: 2, 3: 3, 10: 3} {
			n, err = e.db.CountUpTo(ctx, "people", nil, limit)
			require.NoError(t, err)
			assert.Equal(t, want, n, "limit %d", limit)
		}
		_, err = e.db.CountUpTo(ctx, "a b", nil, 1)
		require.ErrorIs(t, err, domain.ErrInvalidArgument)

		cs, err := e.db.Collections(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"other", "people"}, cs)
	})
}

func TestGetReadsTheCacheFirst(t *testing.T) {
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	_, err := e.db.Put(ctx, "c", "k", []byte(`{"a":1}`), nil)
	require.NoError(t, err)
	for range 3 {
		_, err = e.db.Get(ctx, "c", "k")
		require.NoError(t, err)
	}
	s := e.db.CacheStats()
	assert.Equal(t, int64(3), s.Hits, "the write filled the cache")
	assert.Equal(t, int64(0), s.Misses)

	// A deleted document is a cached tombstone: NOT_FOUND without the store.
	_, err = e.db.Delete(ctx, "c", "k")
	require.NoError(t, err)
	_, err = e.db.Get(ctx, "c", "k")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.Equal(t, int64(4), e.db.CacheStats().Hits)

	// A miss is filled from the store, then served from the cache.
	_, err = e.db.Get(ctx, "c", "never")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = e.store.Commit(ctx, domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{
		Collection: "c", Key: "direct", Data: []byte(`{"d":1}`), Stamp: e.clock.Now()}})
	require.NoError(t, err)
	_, err = e.db.Get(ctx, "c", "direct")
	require.NoError(t, err)
	_, err = e.db.Get(ctx, "c", "direct")
	require.NoError(t, err)
	s = e.db.CacheStats()
	assert.Equal(t, int64(5), s.Hits)
	assert.Equal(t, int64(2), s.Misses)
}

func TestApplyRemote(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		ctx := t.Context()
		_, err := e.db.Put(ctx, "c", "k", []byte(`{"from":"A"}`), nil)
		require.NoError(t, err)
		_, err = e.db.Get(ctx, "c", "k") // cached
		require.NoError(t, err)

		b := newRemoteAuthor("nodeB")
		// B's clock runs 10 s ahead: its write is newer and must win.
		b.clock = domain.NewClock("nodeB", func() int64 { return wallClock() + 10_000 }, 0)
		entries := []domain.Entry{
			b.entry("c", "k", domain.OpPut, `{"from":"B"}`),
			b.entry("c", "gone", domain.OpPut, `{}`),
			b.entry("c", "gone", domain.OpDelete, ""),
		}
		res, err := e.db.ApplyRemote(ctx, entries)
		require.NoError(t, err)
		assert.Len(t, res.Applied, 3)

		d, err := e.db.Get(ctx, "c", "k")
		require.NoError(t, err)
		assert.JSONEq(t, `{"from":"B"}`, string(d.Data), "the cache must not serve A's older copy")
		_, err = e.db.Get(ctx, "c", "gone")
		assert.ErrorIs(t, err, domain.ErrNotFound)

		// The clock folded B's stamps in: the next local write wins over B's.
		assert.False(t, e.clock.Last().Before(entries[2].Stamp))
		v, err := e.db.Put(ctx, "c", "k", []byte(`{"from":"A2"}`), nil)
		require.NoError(t, err)
		assert.True(t, v.After(entries[0].Stamp))

		// Re-delivery is a no-op.
		res, err = e.db.ApplyRemote(ctx, entries)
		require.NoError(t, err)
		assert.Empty(t, res.Applied)
		assert.Equal(t, 3, res.Skipped)
	})
}

func TestApplyRemoteRefusesClockDrift(t *testing.T) {
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	b := newRemoteAuthor("nodeB")
	ok := b.entry("c", "ok", domain.OpPut, `{}`)
	far := domain.Entry{Collection: "c", Key: "far", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: wallClock() + 3_600_000, Node: "nodeC"}}
	far.Seal("")
	res, err := e.db.ApplyRemote(ctx, []domain.Entry{ok, far})
	require.ErrorIs(t, err, domain.ErrClockDrift)
	assert.Len(t, res.Applied, 1)
	_, err = e.db.Get(ctx, "c", "ok")
	require.NoError(t, err)
	_, err = e.db.Get(ctx, "c", "far")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.Less(t, e.clock.Last().Wall, far.Stamp.Wall, "the clock was not dragged forward")
}

// With a resolver that may merge, a local write does not know the visible
// document: it drops the cached copy and the next read loads the store's.
func TestMergeResolverReadsBackAfterWrite(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{Resolver: domain.RecursiveMerge{}})
		ctx := t.Context()
		_, err := e.db.Put(ctx, "c", "k", []byte(`{"a":1}`), nil)
		require.NoError(t, err)
		_, err = e.db.Get(ctx, "c", "k")
		require.NoError(t, err)
		_, err = e.db.Get(ctx, "c", "k")
		require.NoError(t, err)
		s := e.db.CacheStats()
		assert.Equal(t, int64(1), s.Misses, "first read loads the store")
		assert.Equal(t, int64(1), s.Hits)

		_, err = e.db.Put(ctx, "c", "k", []byte(`{"b":2}`), nil)
		require.NoError(t, err)
		d, err := e.db.Get(ctx, "c", "k")
		require.NoError(t, err)
		want, err := e.store.Get(ctx, "c", "k")
		require.NoError(t, err)
		assert.JSONEq(t, string(want.Data), string(d.Data))
		assert.Equal(t, int64(2), e.db.CacheStats().Misses, "the write invalidated the cached copy")
	})
}

// A snapshot's stamps are remote stamps like entries' are: they are folded
// into the clock under the write lock, so a local write that follows the
// bootstrap is newer than every document it brought, and the cached copy of
// that write is what the store holds.
func TestApplySnapshotFoldsStampsIntoClock(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		ctx := t.Context()
		sn, ok := e.store.(ports.Snapshotter)
		require.True(t, ok)
		// B's clock runs 10 s ahead (within the drift limit).
		ahead := domain.Timestamp{Wall: wallClock() + 10_000, Node: "nodeB"}
		snap := domain.Snapshot{
			Documents:   []domain.Document{{Collection: "c", Key: "k", Data: []byte(`{"from":"B"}`), Stamp: ahead}},
			Heads:       map[string]string{"nodeB": "00"},
			VectorClock: map[string]domain.Timestamp{"nodeB": ahead},
		}
		_, err := e.db.ApplySnapshot(ctx, sn, snap)
		require.NoError(t, err)

		v, err := e.db.Put(ctx, "c", "k", []byte(`{"from":"A"}`), nil)
		require.NoError(t, err)
		assert.True(t, v.After(ahead), "local write %s is older than the snapshot's %s", v, ahead)
		got, err := e.db.Get(ctx, "c", "k")
		require.NoError(t, err)
		stored, err := e.store.Get(ctx, "c", "k")
		require.NoError(t, err)
		assert.JSONEq(t, string(stored.Data), string(got.Data), "the cache serves what the store does not hold")
	})
}
