package entgldb_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
)

// TestNodeFilesArePrivate: a node opened where its data directory does not
// exist yet makes it 0700 and every file in it 0600, whatever the umask,
// and leaves the mode of the directory the user made above it alone.
func TestNodeFilesArePrivate(t *testing.T) {
	for name, secret := range map[string]string{
		"secret file":      "",                                 // cluster.secret makes the directory
		"secret in config": "a-configured-cluster-secret-0123", // the store makes it
	} {
		t.Run(name, func(t *testing.T) { requireNodeFilesPrivate(t, secret) })
	}
}

func requireNodeFilesPrivate(t *testing.T, authToken string) {
	userDir := filepath.Join(t.TempDir(), "user")
	require.NoError(t, os.Mkdir(userDir, 0o755))
	require.NoError(t, os.Chmod(userDir, 0o755))
	dataDir := filepath.Join(userDir, "node", "data")
	cfg := entgldb.LocalConfig(dataDir)
	cfg.AuthToken = authToken
	db, err := entgldb.Open(t.Context(), entgldb.Options{Config: cfg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, _, err = entgldb.Put(t.Context(), db.Collection("users"), user{Handle: "ada", Name: "Ada", Age: 36})
	require.NoError(t, err)

	var files int
	require.NoError(t, filepath.WalkDir(filepath.Join(userDir, "node"), func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := d.Info()
		require.NoError(t, err)
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		require.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
		return nil
	}))
	require.GreaterOrEqual(t, files, 3, "the database, its WAL and shared-memory index at least")
	fi, err := os.Stat(userDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
}
