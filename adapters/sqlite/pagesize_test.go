package sqlite

import (
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The page size is part of what nodes share: a file snapshot installs by
// SQLite's backup API into the receiver's WAL-mode store, which refuses a
// file of another page size, and a store in WAL mode cannot change its own.
// A new store therefore gets the page size every earlier release made, and
// a snapshot of a file made by one installs into it.
func TestSnapshotFileOfAnEarlierReleasesFileInstalls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	oldPath := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+oldPath)
	require.NoError(t, err)
	_, err = raw.Exec(`PRAGMA page_size = 4096; CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	a := pendOpen(t, oldPath)
	require.NoError(t, a.SetMeta(ctx, "node_id", "A"))
	var writes []ports.Write
	for k := range 50 {
		writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprint("k", k), Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"n":%d}`, k), Stamp: domain.Timestamp{Wall: pendWall0 + int64(k), Node: "A"}}})
	}
	_, err = a.Commit(ctx, pendLWW, writes...)
	require.NoError(t, err)

	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	var newSize int
	require.NoError(t, c.writer.DB.QueryRowContext(ctx, "PRAGMA page_size").Scan(&newSize))
	require.Equal(t, 4096, newSize, "a new store's page size")
	res, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.Equal(t, 50, res.Documents)
}
