package app_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func pending(key string) domain.PendingOperation {
	return domain.PendingOperation{Op: domain.OpPut, Collection: "c", Key: key, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: 1, Node: "n"}, QueuedAt: 1}
}

func TestOfflineQueueBound(t *testing.T) {
	q := app.NewOfflineQueue(newSQLiteStore(t), app.QueueOptions{Enabled: true, MaxSize: 3}, nil)
	ctx := t.Context()
	for i := range 3 {
		require.NoError(t, q.Enqueue(ctx, pending(fmt.Sprint(i))))
	}
	err := q.Enqueue(ctx, pending("overflow"))
	require.ErrorIs(t, err, domain.ErrQueueFull)
	n, err := q.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "nothing dropped, nothing added")
	assert.Equal(t, int64(1), q.Refused())

	var seen []string
	ok, failed, err := q.Flush(ctx, func(_ context.Context, op domain.PendingOperation) error {
		seen = append(seen, op.Key)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "1", "2"}, seen, "oldest first")
	assert.Equal(t, 3, ok)
	assert.Equal(t, 0, failed)
	require.NoError(t, q.Enqueue(ctx, pending("room again")))
}

func TestOfflineQueueFlushKeepsFailuresInOrder(t *testing.T) {
	q := app.NewOfflineQueue(newSQLiteStore(t), app.QueueOptions{Enabled: true}, nil)
	ctx := t.Context()
	const total = 250 // more than one page
	for i := range total {
		require.NoError(t, q.Enqueue(ctx, pending(fmt.Sprintf("%03d", i))))
	}
	var seen []string
	ok, failed, err := q.Flush(ctx, func(_ context.Context, op domain.PendingOperation) error {
		seen = append(seen, op.Key)
		i, err := strconv.Atoi(op.Key)
		require.NoError(t, err)
		if i%3 == 0 {
			return errors.New("peer hung up")
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, seen, total, "each operation tried exactly once")
	for i, k := range seen {
		assert.Equal(t, fmt.Sprintf("%03d", i), k)
	}
	assert.Equal(t, 84, failed)
	assert.Equal(t, total-84, ok)

	// The next flush sees exactly the failures, in their order.
	seen = nil
	ok, failed, err = q.Flush(ctx, func(_ context.Context, op domain.PendingOperation) error {
		seen = append(seen, op.Key)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 84, ok)
	assert.Equal(t, 0, failed)
	require.Len(t, seen, 84)
	for j, k := range seen {
		assert.Equal(t, fmt.Sprintf("%03d", j*3), k)
	}
	n, err := q.Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestOfflineQueueFlushStopsWithContext(t *testing.T) {
	q := app.NewOfflineQueue(newSQLiteStore(t), app.QueueOptions{Enabled: true}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	for i := range 5 {
		require.NoError(t, q.Enqueue(ctx, pending(fmt.Sprint(i))))
	}
	ok, failed, err := q.Flush(ctx, func(_ context.Context, op domain.PendingOperation) error {
		if op.Key == "1" {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, domain.ErrTimeout)
	assert.Equal(t, 2, ok)
	assert.Zero(t, failed)
	n, err := q.Len(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the untried operations stay queued")
}

func TestOfflineQueueDisabled(t *testing.T) {
	q := app.NewOfflineQueue(newSQLiteStore(t), app.QueueOptions{Enabled: false, MaxSize: 10}, nil)
	ctx := t.Context()
	assert.False(t, q.Enabled())
	require.NoError(t, q.Enqueue(ctx, pending("x")), "a disabled queue is a documented no-op")
	n, err := q.Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestOfflineQueueSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	ctx := t.Context()
	s1, err := sqlite.Open(ctx, sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	q := app.NewOfflineQueue(s1, app.QueueOptions{Enabled: true, MaxSize: 10}, nil)
	require.NoError(t, q.Enqueue(ctx, pending("a")))
	require.NoError(t, q.Enqueue(ctx, pending("b")))
	require.NoError(t, s1.Close())

	s2, err := sqlite.Open(ctx, sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	defer s2.Close()
	q = app.NewOfflineQueue(s2, app.QueueOptions{Enabled: true, MaxSize: 10}, nil)
	var seen []string
	ok, _, err := q.Flush(ctx, func(_ context.Context, op domain.PendingOperation) error {
		seen = append(seen, op.Key)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, ok)
	assert.Equal(t, []string{"a", "b"}, seen)
}

// failingQueueStore fails the named method with a persistence error.
type failingQueueStore struct {
	ports.QueueStore
	fail string
}

var errDisk = &domain.Error{Code: domain.CodePersistence, Op: "fake", Msg: "disk full"}

func (s failingQueueStore) Peek(ctx context.Context, n int) ([]domain.PendingOperation, error) {
	if s.fail == "peek" {
		return nil, errDisk
	}
	return s.QueueStore.Peek(ctx, n)
}

func (s failingQueueStore) Ack(ctx context.Context, ids ...int64) error {
	if s.fail == "ack" {
		return errDisk
	}
	return s.QueueStore.Ack(ctx, ids...)
}

func (s failingQueueStore) QueueLen(ctx context.Context) (int, error) {
	if s.fail == "len" {
		return 0, errors.New("foreign failure")
	}
	return s.QueueStore.QueueLen(ctx)
}

func TestOfflineQueueStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		fail string
		call func(q *app.OfflineQueue) error
	}{
		{"peek", func(q *app.OfflineQueue) error {
			_, _, err := q.Flush(t.Context(), func(context.Context, domain.PendingOperation) error { return nil })
			return err
		}},
		{"ack", func(q *app.OfflineQueue) error {
			_, _, err := q.Flush(t.Context(), func(context.Context, domain.PendingOperation) error { return nil })
			return err
		}},
		{"len", func(q *app.OfflineQueue) error { _, err := q.Len(t.Context()); return err }},
	} {
		t.Run(tc.fail, func(t *testing.T) {
			base := newSQLiteStore(t)
			require.NoError(t, app.NewOfflineQueue(base, app.QueueOptions{Enabled: true}, nil).Enqueue(t.Context(), pending("a")))
			q := app.NewOfflineQueue(failingQueueStore{QueueStore: base, fail: tc.fail}, app.QueueOptions{Enabled: true}, nil)
			err := tc.call(q)
			assert.ErrorIs(t, err, domain.ErrPersistence)
			n, lerr := base.QueueLen(t.Context())
			require.NoError(t, lerr)
			assert.Equal(t, 1, n, "nothing lost")
		})
	}
}
