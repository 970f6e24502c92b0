package app_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// fakeNow is a wall clock a test moves; the store and the database share it.
type fakeNow struct{ ms atomic.Int64 }

func (c *fakeNow) now() time.Time { return time.UnixMilli(c.ms.Load()) }

// drain reads what a subscription has to say now, until it goes quiet.
func drain(t *testing.T, sub *app.Subscription) []domain.Change {
	t.Helper()
	var out []domain.Change
	for {
		select {
		case c := <-sub.C():
			out = append(out, c)
		case <-time.After(200 * time.Millisecond):
			return out
		}
	}
}

func TestExpiringDocumentDisappearsFromEveryRead(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		clk := &fakeNow{}
		clk.ms.Store(time.Now().UnixMilli())
		store := newStore(t)
		store.(interface{ SetClock(func() time.Time) }).SetClock(clk.now)
		db, err := app.NewDatabase(store, cache.New(1<<20), newClock("nodeA"), zap.NewNop(), app.DatabaseOptions{Now: clk.now})
		require.NoError(t, err)
		t.Cleanup(db.Close)
		sess := db.Collection("sessions")
		ctx := t.Context()

		_, err = sess.PutExpiring(ctx, "old", []byte(`{}`), clk.now())
		require.Equal(t, domain.CodeInvalidArgument, domain.CodeOf(err), "an expiry not in the future is refused")
		_, err = db.Batch(ctx, "sessions", app.Batch{Puts: map[string][]byte{"b": []byte(`{}`)}, ExpiresAt: clk.now().Add(-time.Second)})
		require.Equal(t, domain.CodeInvalidArgument, domain.CodeOf(err))

		exp := clk.now().Add(time.Minute)
		_, err = sess.PutExpiring(ctx, "s1", []byte(`{"user":"ann"}`), exp)
		require.NoError(t, err)
		_, err = db.Batch(ctx, "sessions", app.Batch{Puts: map[string][]byte{"s2": []byte(`{"user":"bob"}`)}, ExpiresAt: exp})
		require.NoError(t, err)
		_, err = sess.Put(ctx, "keep", []byte(`{"user":"cid"}`))
		require.NoError(t, err)

		d, err := sess.Get(ctx, "s1")
		require.NoError(t, err)
		require.Equal(t, exp.UnixMilli(), d.ExpiresAt)
		n, err := sess.Count(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, 3, n)

		clk.ms.Store(exp.UnixMilli())
		for _, k := range []string{"s1", "s2"} {
			_, err = sess.Get(ctx, k) // s1 is in the cache: it must not answer
			require.Equal(t, domain.CodeNotFound, domain.CodeOf(err), k)
		}
		docs, err := sess.Find(ctx, domain.Query{})
		require.NoError(t, err)
		require.Len(t, docs, 1)
		require.Equal(t, "keep", docs[0].Key)
		n, err = sess.Count(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		sub, err := db.Watch(ctx, 0)
		require.NoError(t, err)
		defer sub.Close()
		changes := drain(t, sub)
		require.Len(t, changes, 1, "the change feed no longer serves the expired documents")
		require.Equal(t, "keep", changes[0].Key)

		// The key is free again for a create.
		_, err = sess.PutIf(ctx, "s1", []byte(`{"user":"dan"}`), domain.Timestamp{})
		require.NoError(t, err)
	})
}
