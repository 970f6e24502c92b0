package entgldb_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
)

func testConfig(t *testing.T, dir string) entgldb.Config {
	t.Helper()
	cfg := entgldb.DefaultConfig()
	cfg.Persistence.DatabasePath = filepath.Join(dir, "node.db")
	cfg.Persistence.BackupPath = filepath.Join(dir, "backups")
	cfg.Network.BindAddress = "127.0.0.1"
	cfg.Network.TcpPort = 0
	cfg.Network.EnableDiscovery = false
	cfg.Http.Enabled = false
	return cfg
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
