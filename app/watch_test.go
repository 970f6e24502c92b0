package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

// recv reads n events or fails after a deadline.
func recv(t *testing.T, s *app.Subscription, n int) []domain.Change {
	t.Helper()
	out := make([]domain.Change, 0, n)
	deadline := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case c, ok := <-s.C():
			if !ok {
				t.Fatalf("feed closed after %d of %d events: %v", len(out), n, s.Err())
			}
			out = append(out, c)
		case <-deadline:
			t.Fatalf("got %d of %d events before the deadline", len(out), n)
		}
	}
	return out
}

// drainClosed reads until C is closed and returns what it got.
func drainClosed(t *testing.T, s *app.Subscription) []domain.Change {
	t.Helper()
	var out []domain.Change
	deadline := time.After(5 * time.Second)
	for {
		select {
		case c, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, c)
		case <-deadline:
			t.Fatalf("feed not closed before the deadline (%d events read)", len(out))
		}
	}
}

func put(t *testing.T, db *app.Database, key string) domain.Timestamp {
	t.Helper()
	v, err := db.Put(t.Context(), "c", key, fmt.Appendf(nil, `{"k":%q}`, key), nil)
	require.NoError(t, err)
	return v
}

func assertSeqsIncrease(t *testing.T, cs []domain.Change) {
	t.Helper()
	for i := 1; i < len(cs); i++ {
		require.Greater(t, cs[i].Seq, cs[i-1].Seq, "events out of commit order at %d", i)
	}
}

func TestWatchReplaysThenFollows(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})
	ctx := t.Context()
	put(t, e.db, "a")
	put(t, e.db, "b")

	sub, err := e.db.Watch(ctx, 0)
	require.NoError(t, err)
	defer sub.Close()
	replayed := recv(t, sub, 2)
	assert.Equal(t, "a", replayed[0].Key)
	assert.Equal(t, "b", replayed[1].Key)
	assert.False(t, replayed[0].Remote)

	put(t, e.db, "c")
	_, err = e.db.Delete(ctx, "c", "a")
	require.NoError(t, err)
	_, err = e.db.ApplyRemote(ctx, []domain.Entry{newRemoteAuthor("nodeB").entry("c", "r", domain.OpPut, `{}`)})
	require.NoError(t, err)
	live := recv(t, sub, 3)
	assert.Equal(t, "c", live[0].Key)
	assert.Equal(t, domain.OpDelete, live[1].Op)
	assert.Equal(t, "r", live[2].Key)
	assert.True(t, live[2].Remote)
	assertSeqsIncrease(t, append(replayed, live...))

	// Resuming from the second event's Seq yields the rest, nothing twice.
	sub2, err := e.db.Watch(ctx, replayed[1].Seq)
	require.NoError(t, err)
	defer sub2.Close()
	again := recv(t, sub2, 3)
	assert.Equal(t, live, again)

	// since < 0: only what is committed from now on.
	sub3, err := e.db.Watch(ctx, -1)
	require.NoError(t, err)
	defer sub3.Close()
	put(t, e.db, "d")
	got := recv(t, sub3, 1)
	assert.Equal(t, "d", got[0].Key)
}

func TestWatchSlowSubscriberIsCutOffNotWaitedFor(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{WatchBuffer: 4})
	ctx := t.Context()
	sub, err := e.db.Watch(ctx, -1)
	require.NoError(t, err)
	defer sub.Close()

	// Nobody reads: every write must still complete.
	const writes = 50
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range writes {
			put(t, e.db, fmt.Sprintf("k%02d", i))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writers blocked on a slow subscriber")
	}

	got := drainClosed(t, sub)
	require.ErrorIs(t, sub.Err(), domain.ErrQueueFull)
	require.NotEmpty(t, got)
	require.Less(t, len(got), writes)
	assertSeqsIncrease(t, got)

	// Resume from the last Seq seen: the rest arrives, nothing lost.
	sub2, err := e.db.Watch(ctx, got[len(got)-1].Seq)
	require.NoError(t, err)
	defer sub2.Close()
	rest := recv(t, sub2, writes-len(got))
	all := append(got, rest...)
	assertSeqsIncrease(t, all)
	for i, c := range all {
		assert.Equal(t, fmt.Sprintf("k%02d", i), c.Key)
	}
}

func TestWatchOverflowWhileReplayingReplaysAgain(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{WatchBuffer: 2})
	ctx := t.Context()
	for i := range 20 {
		put(t, e.db, fmt.Sprintf("k%02d", i))
	}
	sub, err := e.db.Watch(ctx, 0)
	require.NoError(t, err)
	defer sub.Close()
	// The subscriber is replaying (blocked on its first event): these
	// writes overflow its live buffer.
	for i := 20; i < 30; i++ {
		put(t, e.db, fmt.Sprintf("k%02d", i))
	}
	got := recv(t, sub, 30)
	assertSeqsIncrease(t, got)
	for i, c := range got {
		assert.Equal(t, fmt.Sprintf("k%02d", i), c.Key)
	}
	put(t, e.db, "k30")
	assert.Equal(t, "k30", recv(t, sub, 1)[0].Key)
}

func TestWatchEnds(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{})

	sub, err := e.db.Watch(t.Context(), 0)
	require.NoError(t, err)
	sub.Close()
	drainClosed(t, sub)
	assert.NoError(t, sub.Err())
	sub.Close() // twice is fine

	ctx, cancel := context.WithCancel(t.Context())
	sub, err = e.db.Watch(ctx, -1)
	require.NoError(t, err)
	cancel()
	drainClosed(t, sub)
	assert.ErrorIs(t, sub.Err(), context.Canceled)

	// Database.Close ends every subscription.
	s1, err := e.db.Watch(t.Context(), -1)
	require.NoError(t, err)
	s2, err := e.db.Watch(t.Context(), 0)
	require.NoError(t, err)
	e.db.Close()
	drainClosed(t, s1)
	drainClosed(t, s2)
}

// noLeaks checks, after every cleanup of the test (stores closed), that no
// goroutine the test started is left.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}
