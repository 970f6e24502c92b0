package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// TestMigrateV1ToV2 opens a file written at schema version 1 (every entry
// already in the documents and vclock tables, the HLC-order and hash
// indexes present): the migration drops the indexes and marks every entry
// materialized, so nothing is replayed, and the store reads and writes on
// from the vclock heads.
func TestMigrateV1ToV2(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")

	// Two authors' chains; A's last write deletes k1.
	var entries []domain.Entry
	prev := map[string]string{}
	add := func(node string, wall int64, logic int32, collection, key string, op domain.Op) {
		e := domain.Entry{Collection: collection, Key: key, Op: op, Stamp: domain.Timestamp{Wall: wall, Logical: logic, Node: node}}
		if op == domain.OpPut {
			e.Data = fmt.Appendf(nil, `{"by":%q,"wall":%d}`, node, wall)
		}
		e.Seal(prev[node])
		prev[node] = e.Hash
		entries = append(entries, e)
	}
	add("A", pendWall0+1, 0, "c", "k1", domain.OpPut)
	add("B", pendWall0+2, 0, "c", "k2", domain.OpPut)
	add("A", pendWall0+3, 0, "c", "k2", domain.OpPut)
	add("A", pendWall0+3, 1, "d", "k3", domain.OpPut)
	add("B", pendWall0+4, 0, "d", "k3", domain.OpPut)
	add("A", pendWall0+5, 0, "c", "k1", domain.OpDelete)

	raw, err := sql.Open("sqlite", "file:"+escapePath(path))
	require.NoError(t, err)
	raw.SetMaxOpenConns(1)
	for _, stmt := range migrations[0] {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	_, err = raw.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('schema_version', '1')`)
	require.NoError(t, err)
	// Seqs with a gap, as Prune leaves them.
	for i, e := range entries {
		_, err := raw.ExecContext(ctx, `INSERT INTO oplog (seq, collection, key, op, data, wall, logic, node, hash, prev_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, int64(i+1)*10, e.Collection, e.Key, int(e.Op), nullText(e.Data),
			e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node, e.Hash, e.PrevHash)
		require.NoError(t, err)
	}
	docs := map[docKey]domain.Entry{}
	for _, e := range entries {
		if cur, ok := docs[docKey{e.Collection, e.Key}]; !ok || e.Stamp.After(cur.Stamp) {
			docs[docKey{e.Collection, e.Key}] = e
		}
	}
	for k, e := range docs {
		_, err := raw.ExecContext(ctx, `INSERT INTO documents (collection, key, data, wall, logic, node, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.collection, k.key, nullText(e.Data), e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node, boolInt(e.Op == domain.OpDelete))
		require.NoError(t, err)
	}
	heads := map[string]domain.Entry{}
	for _, e := range entries {
		heads[e.Stamp.Node] = e // each chain is in stamp order
	}
	for a, e := range heads {
		_, err := raw.ExecContext(ctx, `INSERT INTO vclock (author, wall, logic, hash) VALUES (?, ?, ?, ?)`, a, e.Stamp.Wall, e.Stamp.Logical, e.Hash)
		require.NoError(t, err)
	}
	var idx int
	require.NoError(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('oplog_stamp', 'oplog_hash')`).Scan(&idx))
	require.Equal(t, 2, idx, "a version-1 file has both indexes")
	require.NoError(t, raw.Close())

	s := pendOpen(t, path)
	meta := func(key string) string {
		var v string
		require.NoError(t, s.writer.DB.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v))
		return v
	}
	require.Equal(t, strconv.Itoa(SchemaVersion), meta(metaSchemaVersion))
	require.Equal(t, strconv.Itoa(SchemaVersion), meta(metaSchemaVersion))
	require.Equal(t, "60", meta(metaMaterializedSeq), "materialized_seq is max(seq)")
	require.NoError(t, s.writer.DB.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('oplog_stamp', 'oplog_hash')`).Scan(&idx))
	require.Zero(t, idx, "version 2 drops oplog_stamp and oplog_hash")
	require.Zero(t, pendPendingLen(s), "nothing replayed: version 1 wrote every document")

	for k, e := range docs {
		d, err := s.Get(ctx, k.collection, k.key)
		if e.Op == domain.OpDelete {
			require.Equal(t, domain.CodeNotFound, domain.CodeOf(err), "%v", k)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, e.Stamp, d.Stamp)
		require.Equal(t, string(e.Data), string(d.Data))
	}
	n, err := s.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 1, n, "c/k1 is deleted")
	wantHeads := map[string]string{}
	wantVC := domain.VectorClock{}
	for a, e := range heads {
		wantHeads[a] = e.Hash
		wantVC[a] = e.Stamp
	}
	gotHeads, err := s.Heads(ctx)
	require.NoError(t, err)
	require.Equal(t, wantHeads, gotHeads)
	vc, err := s.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, wantVC, vc)
	newest, err := s.NewestStamp(ctx)
	require.NoError(t, err)
	require.Equal(t, heads["A"].Stamp, newest)

	// The oplog reads that lost their index still answer.
	all, err := s.EntriesAfter(ctx, domain.Timestamp{}, nil, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, len(entries))
	for i := range all {
		require.Equal(t, entries[i].Hash, all[i].Hash, "HLC order (the entries were built in it)")
	}
	chain, err := s.ChainRange(ctx, heads["B"].PrevHash, heads["B"].Hash)
	require.NoError(t, err)
	require.Len(t, chain, 1)
	require.Equal(t, heads["B"].Hash, chain[0].Hash)

	// A new local write chains onto the vclock head and gets a seq after
	// the greatest.
	got, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k4", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: pendWall0 + 10, Node: "A"}}})
	require.NoError(t, err)
	require.Equal(t, heads["A"].Hash, got[0].PrevHash)
	require.Greater(t, got[0].Seq, int64(60))

	// Reopened, it stays at version 2 with the new write in place.
	require.NoError(t, s.Close())
	s = pendOpen(t, path)
	require.Equal(t, strconv.Itoa(SchemaVersion), meta(metaSchemaVersion))
	d, err := s.Get(ctx, "c", "k4")
	require.NoError(t, err)
	require.Equal(t, got[0].Stamp, d.Stamp)
	gotHeads, err = s.Heads(ctx)
	require.NoError(t, err)
	require.Equal(t, got[0].Hash, gotHeads["A"])
	mark, maxSeq := pendMarks(t, s)
	require.Equal(t, maxSeq, mark)
}

// TestMigrateV1EmptyOplog: a version-1 file with no oplog rows migrates to
// materialized_seq 0 (the migration's aggregate must yield a row).
func TestMigrateV1EmptyOplog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", "file:"+escapePath(path))
	require.NoError(t, err)
	for _, stmt := range migrations[0] {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	_, err = raw.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('schema_version', '1')`)
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	s := pendOpen(t, path)
	mark, maxSeq := pendMarks(t, s)
	require.Zero(t, mark)
	require.Zero(t, maxSeq)
	got, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: pendWall0, Node: "A"}}})
	require.NoError(t, err)
	require.Empty(t, got[0].PrevHash)
}
