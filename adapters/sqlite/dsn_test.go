package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConnectionSettings(t *testing.T) {
	cases := []struct {
		name        string
		opts        Options
		journal     string
		synchronous int // 1 NORMAL, 2 FULL
	}{
		{"wal+normal", Options{EnableWAL: true}, "wal", 1},
		{"rollback+full", Options{SyncFull: true}, "delete", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Path = filepath.Join(t.TempDir(), "db")
			c.opts.BusyTimeout = 1234 * time.Millisecond
			s, err := Open(t.Context(), c.opts)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			var journal string
			var sync, busy, fk int
			w, r := s.writer.DB, s.reader.DB
			require.NoError(t, w.QueryRow("PRAGMA journal_mode").Scan(&journal))
			require.NoError(t, w.QueryRow("PRAGMA synchronous").Scan(&sync))
			require.NoError(t, w.QueryRow("PRAGMA busy_timeout").Scan(&busy))
			require.NoError(t, w.QueryRow("PRAGMA foreign_keys").Scan(&fk))
			require.Equal(t, c.journal, journal)
			require.Equal(t, c.synchronous, sync)
			require.Equal(t, 1234, busy)
			require.Equal(t, 1, fk)
			// Readers wait on locks and sync the same way.
			require.NoError(t, r.QueryRow("PRAGMA busy_timeout").Scan(&busy))
			require.Equal(t, 1234, busy)
			require.NoError(t, r.QueryRow("PRAGMA synchronous").Scan(&sync))
			require.Equal(t, c.synchronous, sync)
		})
	}
}
