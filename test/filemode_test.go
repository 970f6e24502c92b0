package test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// requirePrivate requires path and, for a directory, everything under it to
// be its owner's alone: files 0600, directories 0700.
func requirePrivate(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		require.Equal(t, want, fi.Mode().Perm(), "mode of %s", p)
		return nil
	}))
}
