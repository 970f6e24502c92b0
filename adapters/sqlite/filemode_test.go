package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
)

// requireMode requires path's permission bits to be want.
func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}

// TestFilesArePrivate: whatever the umask, the database, its WAL and
// shared-memory index, backups and restored files are 0600, and the
// directories the store creates 0700; a directory that already exists
// keeps its mode.
func TestFilesArePrivate(t *testing.T) {
	base := t.TempDir()
	userDir := filepath.Join(base, "user")
	require.NoError(t, os.Mkdir(userDir, 0o755))
	require.NoError(t, os.Chmod(userDir, 0o755)) // whatever the umask

	path := filepath.Join(userDir, "data", "sub", "entgldb.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	put(t, s, "k", 1)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		requireMode(t, p, 0o600)
	}
	requireMode(t, filepath.Join(userDir, "data"), 0o700)
	requireMode(t, filepath.Join(userDir, "data", "sub"), 0o700)
	requireMode(t, userDir, 0o755)

	backups := filepath.Join(userDir, "backups")
	auto, err := s.BackupNow(t.Context(), backups, 2)
	require.NoError(t, err)
	requireMode(t, auto, 0o600)
	requireMode(t, backups, 0o700)

	manual := filepath.Join(userDir, "manual.db")
	_, err = s.Backup(t.Context(), manual)
	require.NoError(t, err)
	requireMode(t, manual, 0o600)
	require.NoError(t, s.Close())

	offline := filepath.Join(userDir, "offline.db")
	_, err = sqlite.BackupFile(t.Context(), path, offline)
	require.NoError(t, err)
	requireMode(t, offline, 0o600)

	require.NoError(t, sqlite.Restore(t.Context(), manual, path))
	requireMode(t, path, 0o600)
	replaced, err := filepath.Glob(path + ".replaced-*")
	require.NoError(t, err)
	require.NotEmpty(t, replaced)
	for _, p := range replaced {
		requireMode(t, p, 0o600)
	}

	restored := filepath.Join(userDir, "restored.db")
	require.NoError(t, sqlite.Restore(t.Context(), manual, restored))
	requireMode(t, restored, 0o600)
	r, err := sqlite.Open(t.Context(), sqlite.Options{Path: restored, EnableWAL: true})
	require.NoError(t, err)
	put(t, r, "k2", 2)
	for _, p := range []string{restored, restored + "-wal", restored + "-shm"} {
		requireMode(t, p, 0o600)
	}
	require.NoError(t, r.Close())
}
