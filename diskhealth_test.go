//go:build linux || darwin || freebsd

package entgldb_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// limitFileSize makes every write that would grow a file past n bytes fail
// with EFBIG, as a full disk fails it, for the whole test process (the
// limit binds root too, unlike file modes); restore lifts it again. Go
// ignores the SIGXFSZ that comes with it.
func limitFileSize(t *testing.T, n uint64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	lowered := old
	lowered.Cur = n
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lowered))
	restored := false
	restore = func() {
		if !restored {
			restored = true
			require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
		}
	}
	t.Cleanup(restore)
	return restore
}

// A node on a real SQLite file whose disk refuses writes (reads still
// work, so the database check passes) answers /healthz with 503 and an
// error naming the disk, and is healthy again once a write succeeds.
func TestHealthzReportsADiskThatRefusesWrites(t *testing.T) {
	ctx := t.Context()
	cfg := entgldb.LocalConfig(t.TempDir())
	cfg.Persistence.EnableAutoBackup = false
	db, addr := openHTTP(t, cfg)
	defer func() { _ = db.Close() }()
	c := client.New(addr, adminKey(t, cfg))
	defer c.CloseIdle()

	_, err := c.Put(ctx, "docs", "first", []byte(`{"n":0}`))
	require.NoError(t, err)
	h, err := c.Health(ctx)
	require.NoError(t, err)
	require.True(t, h.Healthy, string(h.Report))

	// Large documents grow the WAL past its current size within a few writes.
	big := []byte(`{"pad":"` + string(bytes.Repeat([]byte("x"), 256<<10)) + `"}`)
	restore := limitFileSize(t, 1)
	var writeErr error
	for i := 0; i < 200 && writeErr == nil; i++ {
		_, writeErr = c.Put(ctx, "docs", "k"+strconv.Itoa(i), big)
	}
	require.ErrorIs(t, writeErr, domain.ErrPersistence, "the disk refuses writes")

	h, err = c.Health(ctx)
	require.NoError(t, err)
	require.False(t, h.Healthy, "503 while writes fail")
	var report struct {
		IsHealthy       bool     `json:"is_healthy"`
		DatabaseHealthy bool     `json:"database_healthy"`
		Errors          []string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(h.Report, &report))
	require.False(t, report.DatabaseHealthy)
	require.NotEmpty(t, report.Errors)
	require.Contains(t, report.Errors[0], "disk: writes are failing")
	_, err = c.Get(ctx, "docs", "first")
	require.NoError(t, err, "reads still work")

	restore()
	_, err = c.Put(ctx, "docs", "after", []byte(`{"n":1}`))
	require.NoError(t, err)
	h, err = c.Health(ctx)
	require.NoError(t, err)
	require.True(t, h.Healthy, string(h.Report))
}
