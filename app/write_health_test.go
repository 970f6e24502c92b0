package app_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// failingDisk is a store whose commits fail as a full disk makes SQLite's
// fail (PERSISTENCE_ERROR) while reads keep working.
type failingDisk struct {
	ports.Store
	full atomic.Bool
}

func (f *failingDisk) Commit(ctx context.Context, r domain.Resolver, writes ...ports.Write) ([]domain.Entry, error) {
	if f.full.Load() {
		return nil, domain.Errorf(domain.CodePersistence, "fake.Commit", "database or disk is full")
	}
	return f.Store.Commit(ctx, r, writes...)
}

func (f *failingDisk) ApplyRemote(ctx context.Context, r domain.Resolver, entries []domain.Entry) (ports.ApplyResult, error) {
	if f.full.Load() {
		return ports.ApplyResult{}, domain.Errorf(domain.CodePersistence, "fake.ApplyRemote", "disk I/O error")
	}
	return f.Store.ApplyRemote(ctx, r, entries)
}

// A disk that refuses writes makes the node unhealthy although its reads
// (the database check) still succeed, and the next accepted write makes it
// healthy again.
func TestHealthReportsRefusedWritesUntilOneSucceeds(t *testing.T) {
	ctx := t.Context()
	disk := &failingDisk{Store: memory.New()}
	db, err := app.NewDatabase(disk, nil, newClock("n1"), nil, app.DatabaseOptions{})
	require.NoError(t, err)
	h := app.NewHealthCheck(&fakeDB{}, nil, nil, app.HealthOptions{WriteFailure: db.WriteFailure})

	_, err = db.Put(ctx, "c", "k", []byte(`{"a":1}`), nil)
	require.NoError(t, err)
	require.True(t, h.Check(ctx).IsHealthy)

	disk.full.Store(true)
	_, err = db.Put(ctx, "c", "k", []byte(`{"a":2}`), nil)
	require.ErrorIs(t, err, domain.ErrPersistence)
	r := h.Check(ctx)
	require.False(t, r.IsHealthy)
	require.False(t, r.DatabaseHealthy)
	require.NotEmpty(t, r.Errors)
	require.Contains(t, r.Errors[0], "disk: writes are failing")
	require.Contains(t, r.Errors[0], "disk is full")
	since := db.WriteFailure().Since

	_, err = db.Put(ctx, "c", "k2", []byte(`{"a":3}`), nil)
	require.Error(t, err)
	require.Equal(t, since, db.WriteFailure().Since, "a run of failures keeps its start")

	disk.full.Store(false)
	_, err = db.Put(ctx, "c", "k", []byte(`{"a":4}`), nil)
	require.NoError(t, err)
	require.Nil(t, db.WriteFailure())
	require.True(t, h.Check(ctx).IsHealthy)
}

// Writes from peers count too: a disk that refuses them is as broken.
func TestHealthReportsRefusedRemoteApplies(t *testing.T) {
	ctx := t.Context()
	disk := &failingDisk{Store: memory.New()}
	db, err := app.NewDatabase(disk, nil, newClock("n1"), nil, app.DatabaseOptions{})
	require.NoError(t, err)
	peer := newRemoteAuthor("n2")

	disk.full.Store(true)
	_, err = db.ApplyRemote(ctx, []domain.Entry{peer.entry("c", "k", domain.OpPut, `{"a":1}`)})
	require.ErrorIs(t, err, domain.ErrPersistence)
	require.NotNil(t, db.WriteFailure())

	disk.full.Store(false)
	_, err = db.ApplyRemote(ctx, []domain.Entry{peer.entry("c", "k2", domain.OpPut, `{"a":2}`)})
	require.NoError(t, err)
	require.Nil(t, db.WriteFailure())
}

// A client's mistakes, or a client that gave up, never look like a failing
// disk; nor do they hide one.
func TestClientMistakesDoNotLookLikeDiskFailure(t *testing.T) {
	ctx := t.Context()
	disk := &failingDisk{Store: memory.New()}
	db, err := app.NewDatabase(disk, nil, newClock("n1"), nil, app.DatabaseOptions{})
	require.NoError(t, err)

	_, err = db.Delete(ctx, "c", "missing")
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = db.Put(ctx, "c", "k", []byte(`{"a":1}`), &domain.Timestamp{Wall: 1, Node: "x"})
	require.ErrorIs(t, err, domain.ErrConflict)
	_, err = db.Put(ctx, "c", "k", []byte(`not json`), nil)
	require.Error(t, err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = db.Put(canceled, "c", "k", []byte(`{"a":1}`), nil)
	require.Error(t, err)
	require.Nil(t, db.WriteFailure())

	disk.full.Store(true)
	_, err = db.Put(ctx, "c", "k", []byte(`{"a":1}`), nil)
	require.Error(t, err)
	_, err = db.Put(ctx, "c", "k", []byte(`not json`), nil)
	require.ErrorIs(t, err, domain.ErrInvalidArgument)
	require.NotNil(t, db.WriteFailure(), "a refused request does not hide a failing disk")
}

// A store error that is not the store's own (a caller's context ended
// mid-commit) is not recorded.
func TestCanceledCommitIsNotADiskFailure(t *testing.T) {
	disk := &cancelingStore{Store: memory.New()}
	db, err := app.NewDatabase(disk, nil, newClock("n1"), nil, app.DatabaseOptions{})
	require.NoError(t, err)
	_, err = db.Put(t.Context(), "c", "k", []byte(`{"a":1}`), nil)
	require.Error(t, err)
	require.Nil(t, db.WriteFailure())
}

type cancelingStore struct{ ports.Store }

func (cancelingStore) Commit(context.Context, domain.Resolver, ...ports.Write) ([]domain.Entry, error) {
	return nil, domain.Wrap(domain.CodePersistence, "fake.Commit", errors.Join(errors.New("interrupted"), context.Canceled))
}
