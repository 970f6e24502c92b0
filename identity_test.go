package entgldb_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
)

func testConfig(t *testing.T, dir string) entgldb.Config {
	t.Helper()
	return entgldb.LocalConfig(dir)
}

// An empty NodeId is generated once and kept across restarts; after
// ForgetNodeID (what `entgldb restore` does) the next start takes a new one.
func TestNodeIDIsKeptAndForgottenOnRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)

	open := func() string {
		node, err := entgldb.Open(ctx, entgldb.Options{Config: cfg})
		require.NoError(t, err)
		id := node.ID()
		require.NoError(t, node.Stop(ctx))
		return id
	}
	first := open()
	require.NotEmpty(t, first)
	require.Equal(t, first, open(), "the generated id survives a restart")

	require.NoError(t, entgldb.ForgetNodeID(ctx, cfg.Persistence.DatabasePath))
	require.NotEqual(t, first, open(), "a restored database takes a new id")
}

// A node whose database is replaced by a backup at open
// (AutoRestoreOnCorruption) also takes a new id.
func TestAutoRestoredNodeTakesNewID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Persistence.AutoRestoreOnCorruption = true

	node, err := entgldb.Open(ctx, entgldb.Options{Config: cfg})
	require.NoError(t, err)
	first := node.ID()
	pad := strings.Repeat("x", 400)
	for i := 0; i < 300; i++ {
		_, err := node.Collection("c").Put(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad)))
		require.NoError(t, err)
	}
	require.NoError(t, node.Stop(ctx))

	st, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.Persistence.DatabasePath, EnableWAL: true})
	require.NoError(t, err)
	_, err = st.BackupNow(ctx, cfg.Persistence.BackupPath, 3)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	// Overwrite pages in the middle of the file.
	f, err := os.OpenFile(cfg.Persistence.DatabasePath, os.O_RDWR, 0)
	require.NoError(t, err)
	junk := []byte(strings.Repeat("\xde\xad\xbe\xef", 1024))
	for off := int64(4096); off < 40*4096; off += 3 * 4096 {
		_, err := f.WriteAt(junk, off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	node, err = entgldb.Open(ctx, entgldb.Options{Config: cfg})
	require.NoError(t, err)
	defer node.Stop(ctx)
	require.NotEqual(t, first, node.ID())
	n, err := node.Collection("c").Count(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 300, n, "the documents came back from the backup")
}
