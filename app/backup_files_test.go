package app_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

func TestBackupFilesListAndOpenOnlyBackups(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, app.ManualBackupDir), 0o700))
	write := func(p, body string, age time.Duration) {
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		at := time.Now().Add(-age)
		require.NoError(t, os.Chtimes(p, at, at))
	}
	write(filepath.Join(dir, "entgldb-old.db"), "old", time.Hour)
	write(filepath.Join(dir, app.ManualBackupDir, "entgldb-new.db"), "newest", 0)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "secret"), []byte("x"), 0o600))

	svc := app.NewBackupService(nil, nil, app.BackupOptions{Dir: dir})
	list, err := svc.List()
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "entgldb-new.db", list[0].Name, "newest first")
	require.Equal(t, app.BackupKindManual, list[0].Kind)
	require.Equal(t, int64(6), list[0].Bytes)
	require.Equal(t, app.BackupKindAuto, list[1].Kind)

	f, err := svc.Open(app.BackupKindAuto, "entgldb-old.db")
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, "old", string(b))

	for _, bad := range []struct{ kind, name string }{
		{app.BackupKindAuto, "../secret"}, {app.BackupKindAuto, ".."}, {app.BackupKindAuto, ""},
		{"other", "entgldb-old.db"}, {app.BackupKindAuto, app.ManualBackupDir},
	} {
		_, err := svc.Open(bad.kind, bad.name)
		require.Error(t, err, "%+v", bad)
		require.Contains(t, []domain.Code{domain.CodeInvalidArgument, domain.CodeNotFound}, domain.CodeOf(err))
	}
	_, err = svc.Open(app.BackupKindAuto, "absent.db")
	require.ErrorIs(t, err, domain.ErrNotFound)
}
