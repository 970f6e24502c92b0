package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/adapters/telemetry"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

// gauge reads one unlabelled counter or gauge from reg (false: absent).
func gauge(t *testing.T, reg *prometheus.Registry, name string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		m := f.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

func newBackupStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "entgldb.db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// Automatic backups count in backups_total and backup_age_seconds like the
// ones asked for over HTTP.
func TestAutoBackupUpdatesTheMetrics(t *testing.T) {
	store := newBackupStore(t)
	reg := telemetry.NewRegistry()
	m := telemetry.NewMetrics(reg, nil)
	dir := filepath.Join(t.TempDir(), "backups")
	b := app.NewBackupService(store, nil, app.BackupOptions{Dir: dir, Keep: 2, Interval: 20 * time.Millisecond, Observer: m})

	age, ok := gauge(t, reg, "entgldb_backup_age_seconds")
	require.True(t, ok)
	require.Equal(t, -1.0, age, "no backup yet")

	require.NoError(t, b.Start(t.Context()))
	require.Eventually(t, func() bool {
		n, _ := gauge(t, reg, "entgldb_backups_total")
		return n >= 2
	}, 10*time.Second, 10*time.Millisecond, "automatic backups must be counted")
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Stop(stopCtx))

	age, _ = gauge(t, reg, "entgldb_backup_age_seconds")
	assert.GreaterOrEqual(t, age, 0.0, "the age is measured from the last automatic backup")
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, files, 2, "Keep bounds the backups kept")
}

// A backup asked for reports its file and counts once; with no Interval
// the service makes none on its own.
func TestBackupNowReportsTheFile(t *testing.T) {
	store := newBackupStore(t)
	reg := telemetry.NewRegistry()
	b := app.NewBackupService(store, nil, app.BackupOptions{Dir: t.TempDir(), Observer: telemetry.NewMetrics(reg, nil)})
	require.NoError(t, b.Start(t.Context()))
	defer func() { require.NoError(t, b.Stop(context.Background())) }()

	f, err := b.BackupNow(t.Context())
	require.NoError(t, err)
	st, err := os.Stat(f.Path)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), f.Bytes)
	n, _ := gauge(t, reg, "entgldb_backups_total")
	assert.Equal(t, 1.0, n)
}

// blockingBackups is a BackupStore whose backups wait for release; it
// counts the files each directory keeps the way Keep would.
type blockingBackups struct {
	started chan string
	release chan struct{}
}

func (s *blockingBackups) BackupNow(ctx context.Context, dir string, _ int) (string, error) {
	s.started <- dir
	select {
	case <-s.release:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return filepath.Join(dir, "b.db"), nil
}

// One backup at a time: a request while one runs is a CONFLICT at once,
// and the next one after it finishes works.
func TestBackupNowOneAtATime(t *testing.T) {
	store := &blockingBackups{started: make(chan string, 4), release: make(chan struct{})}
	b := app.NewBackupService(store, nil, app.BackupOptions{Dir: "/backups", Keep: 2})
	first := make(chan error, 1)
	go func() { _, err := b.BackupNow(t.Context()); first <- err }()
	require.Equal(t, filepath.Join("/backups", app.ManualBackupDir), <-store.started, "backups asked for go to their own directory")

	_, err := b.BackupNow(t.Context())
	require.ErrorIs(t, err, domain.ErrConflict)

	close(store.release)
	require.NoError(t, <-first)
	_, err = b.BackupNow(t.Context())
	require.NoError(t, err)
}

// However many backups are asked for, Keep rotates only their directory:
// the automatic backups stay.
func TestManualBackupsNeverRotateAutomaticOnes(t *testing.T) {
	store := newBackupStore(t)
	dir := filepath.Join(t.TempDir(), "backups")
	b := app.NewBackupService(store, nil, app.BackupOptions{Dir: dir, Keep: 2})
	auto, err := store.BackupNow(t.Context(), dir, 2) // an automatic backup, where the service writes them
	require.NoError(t, err)

	for range 5 {
		_, err := b.BackupNow(t.Context())
		require.NoError(t, err)
	}
	_, err = os.Stat(auto)
	require.NoError(t, err, "the automatic backup must survive backups asked for")
	manual, err := os.ReadDir(filepath.Join(dir, app.ManualBackupDir))
	require.NoError(t, err)
	assert.Len(t, manual, 2, "Keep bounds the backups asked for too")
}
