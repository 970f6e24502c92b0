package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// onceRow is what the oplog stores for one entry.
type onceRow struct {
	hasData            bool
	hashType, prevType string
}

func onceRows(t *testing.T, db *sql.DB) map[int64]onceRow {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT seq, data IS NOT NULL, typeof(hash), typeof(prev_hash) FROM oplog`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int64]onceRow{}
	for rows.Next() {
		var seq int64
		var r onceRow
		require.NoError(t, rows.Scan(&seq, &r.hasData, &r.hashType, &r.prevType))
		out[seq] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// onceSame asserts the store serves exactly the entries of want, by hash.
func onceSame(t *testing.T, s *Store, want map[string]domain.Entry) {
	t.Helper()
	got, err := s.EntriesSinceSeq(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for _, e := range got {
		w, ok := want[e.Hash]
		require.True(t, ok, "unexpected entry %s/%s %s", e.Collection, e.Key, e.Hash)
		require.Equal(t, string(w.Data), string(e.Data), "%s/%s at %s", e.Collection, e.Key, e.Stamp)
		require.Equal(t, w.PrevHash, e.PrevHash)
		require.Equal(t, w.Op, e.Op)
		require.Equal(t, w.Stamp, e.Stamp)
	}
}

// TestEachDocumentStoredOnce: whichever path wrote an entry, the entry that
// is its document's current version keeps no copy of the JSON, and an
// entry whose document moved on (overwritten locally, by a peer, by a
// resolver's merge, deleted) serves its own bytes again. Hashes are kept
// as their bytes.
func TestEachDocumentStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "once.db"))
	want := map[string]domain.Entry{}
	wall := pendWall0
	put := func(key string) ports.Write {
		wall++
		return ports.Write{Entry: domain.Entry{Collection: "c", Key: key, Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"key":%q,"wall":%d}`, key, wall), Stamp: domain.Timestamp{Wall: wall, Node: "L"}}}
	}
	commit := func(r domain.Resolver, writes ...ports.Write) {
		t.Helper()
		out, err := s.Commit(ctx, r, writes...)
		require.NoError(t, err)
		for _, e := range out {
			want[e.Hash] = e
		}
	}
	// A batch (b2 twice: its first entry is superseded within the batch),
	// single pending Puts, and a checked write.
	commit(pendLWW, put("b1"), put("b2"), put("b2"))
	commit(pendLWW, put("p1"))
	commit(pendLWW, put("p1"))
	commit(pendLWW, put("p2"))
	zero := domain.Timestamp{}
	w := put("k1")
	w.IfVersion = &zero
	commit(pendLWW, w)
	// Writes that read the documents table materialize the pending ones.
	commit(pendLWW, put("b1"), put("p2"))

	// A peer's entries: one loses to the document held, one wins.
	remote := func(key string, wall int64) domain.Entry {
		e := domain.Entry{Collection: "c", Key: key, Op: domain.OpPut, Data: fmt.Appendf(nil, `{"remote":%q}`, key),
			Stamp: domain.Timestamp{Wall: wall, Node: "R"}}
		return e
	}
	r1 := remote("b2", pendWall0-10)
	r1.Seal("")
	r2 := remote("p1", wall+100)
	r2.Seal(r1.Hash)
	// A hash not in the canonical form is kept as it came.
	r3 := remote("x1", wall+101)
	r3.Hash, r3.PrevHash = strings.ToUpper(r2.Hash), r2.Hash
	res, err := s.ApplyRemote(ctx, pendLWW, []domain.Entry{r1, r2, r3})
	require.NoError(t, err)
	require.Len(t, res.Applied, 3)
	for _, e := range []domain.Entry{r1, r2, r3} {
		want[e.Hash] = e
	}
	// Re-delivered entries are skipped: the new one after them, which
	// chains from the one before it in the batch, keeps its prev_hash.
	r4 := remote("x2", wall+102)
	r4.Seal(r3.Hash)
	r5 := remote("x3", wall+103)
	r5.Seal(r4.Hash)
	res, err = s.ApplyRemote(ctx, pendLWW, []domain.Entry{r2, r3, r4, r5})
	require.NoError(t, err)
	require.Len(t, res.Applied, 2)
	want[r4.Hash], want[r5.Hash] = r4, r5
	// A delete of a document a batch wrote.
	wall++
	del := ports.Write{Entry: domain.Entry{Collection: "c", Key: "b1", Op: domain.OpDelete, Stamp: domain.Timestamp{Wall: wall, Node: "L"}}}
	commit(pendLWW, del, put("k2"))
	_, err = s.Count(ctx, "c", nil) // materializes
	require.NoError(t, err)

	onceSame(t, s, want)
	docs := map[docKey]domain.Document{}
	snap, err := s.Snapshot(ctx)
	require.NoError(t, err)
	for _, d := range snap.Documents {
		docs[docKey{d.Collection, d.Key}] = d
	}
	got, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	rows := onceRows(t, s.writer.DB)
	for _, e := range got {
		d := docs[docKey{e.Collection, e.Key}]
		current := e.Op == domain.OpPut && d.Stamp == e.Stamp
		require.Equal(t, e.Op == domain.OpPut && !current, rows[e.Seq].hasData, "%s/%s at %s: a copy only when not current", e.Collection, e.Key, e.Stamp)
		if current {
			require.Equal(t, string(d.Data), string(e.Data))
		}
		wantType := "blob"
		if e.Hash == r3.Hash {
			wantType = "text"
		}
		require.Equal(t, wantType, rows[e.Seq].hashType, "%s/%s", e.Collection, e.Key)
		if e.Hash == r4.Hash {
			require.NotEqual(t, "null", rows[e.Seq].prevType, "the row before r4 is not r3")
		}
	}
	elided := 0
	for _, r := range rows {
		if r.prevType == "null" {
			elided++
		}
	}
	require.Positive(t, elided, "entries that chain from the row before keep no prev_hash")

	// A resolver that merges keeps the entry's stamp with other bytes: the
	// entry keeps its own.
	commit(onceMerge{}, put("b2"))
	onceSame(t, s, want)

	// Compaction removes the superseded entries; what stays reads the same.
	vc, err := s.VectorClock(ctx)
	require.NoError(t, err)
	_, err = s.Compact(ctx, domain.CompactionPolicy{HeldByAll: vc, Now: wall + 1_000_000})
	require.NoError(t, err)
	left, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	kept := map[string]domain.Entry{}
	for _, e := range left {
		kept[e.Hash] = want[e.Hash]
	}
	require.Less(t, len(kept), len(want))
	onceSame(t, s, kept)
	for _, e := range left {
		link, err := s.LinkOf(ctx, e.Hash)
		require.NoError(t, err)
		require.Equal(t, e.Link, link)
	}
}

// TestMigrateV6ToV7 opens a file written at schema version 6: each entry
// whose document row holds its version gives up its copy, canonical hashes
// become their bytes, and every entry reads back as it was written,
// including one left pending by a crash (replayed at Open).
func TestMigrateV6ToV7(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v6.db")
	raw, exec := rawAtVersion(t, path, 6)
	exec(`INSERT INTO meta (key, value) VALUES ('schema_version', '6')`)
	var entries []domain.Entry
	prev := ""
	add := func(key string, op domain.Op, data string, seal func(e *domain.Entry)) domain.Entry {
		e := domain.Entry{Collection: "c", Key: key, Op: op, Data: []byte(data), ExpiresAt: int64(len(entries)%2) * 2 * pendWall0,
			Stamp: domain.Timestamp{Wall: pendWall0 + int64(len(entries)), Node: "A"}, Link: make([]byte, domain.LinkSize)}
		e.Link[0] = byte(len(entries) + 1)
		if op == domain.OpDelete {
			e.Data = nil
		}
		e.Seal(prev)
		if seal != nil {
			seal(&e)
		}
		prev = e.Hash
		e.Seq = int64(len(entries) + 1)
		entries = append(entries, e)
		exec(`INSERT INTO oplog (seq, collection, key, op, data, wall, logic, node, hash, prev_hash, link, legacy, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.Collection, e.Key, int(e.Op), nullText(e.Data), e.Stamp.Wall, e.Stamp.Logical,
			e.Stamp.Node, e.Hash, e.PrevHash, e.Link, boolInt(e.Legacy), e.ExpiresAt)
		return e
	}
	row := func(e domain.Entry, data string) {
		exec(`INSERT OR REPLACE INTO documents (collection, key, data, wall, logic, node, deleted, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Collection, e.Key, nullText([]byte(data)), e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node, boolInt(e.Op == domain.OpDelete), e.ExpiresAt)
	}
	add("k1", domain.OpPut, `{"v":1}`, nil) // superseded: keeps its copy
	current := add("k1", domain.OpPut, `{"v":2}`, nil)
	row(current, `{"v":2}`)
	add("k2", domain.OpPut, `{"v":3}`, nil)
	gone := add("k2", domain.OpDelete, "", nil)
	row(gone, "")
	merged := add("k3", domain.OpPut, `{"v":4}`, nil) // its row holds a merge under its stamp
	row(merged, `{"v":4,"merged":true}`)
	hashless := add("k4", domain.OpPut, `{"v":5}`, func(e *domain.Entry) { e.Hash, e.Legacy = "", true })
	row(hashless, `{"v":5}`)
	upper := add("k5", domain.OpPut, `{"v":6}`, func(e *domain.Entry) { e.Hash = strings.ToUpper(e.Hash) })
	row(upper, `{"v":6}`)
	exec(`INSERT INTO vclock (author, wall, logic, hash) VALUES ('A', ?, ?, ?)`, upper.Stamp.Wall, upper.Stamp.Logical, upper.Hash)
	exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, metaMaterializedSeq, strconv.Itoa(len(entries)))
	// Committed, not yet materialized when the node crashed.
	pending := add("k6", domain.OpPut, `{"v":7}`, nil)
	require.NoError(t, raw.Close())

	s := pendOpen(t, path)
	var version string
	require.NoError(t, s.writer.DB.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaSchemaVersion).Scan(&version))
	require.Equal(t, strconv.Itoa(SchemaVersion), version)
	got, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, entries, got)
	d, err := s.Get(ctx, "c", "k6")
	require.NoError(t, err)
	require.Equal(t, pending.Data, d.Data)
	d, err = s.Get(ctx, "c", "k3")
	require.NoError(t, err)
	require.JSONEq(t, `{"v":4,"merged":true}`, string(d.Data))

	rows := onceRows(t, s.writer.DB)
	for _, e := range entries {
		copyKept := e.Seq == 1 || e.Seq == 3 || e.Seq == merged.Seq // superseded, superseded by the delete, merged
		require.Equal(t, copyKept, rows[e.Seq].hasData, "%s seq %d", e.Key, e.Seq)
		wantType := "blob"
		if e.Hash == "" || e.Hash == upper.Hash {
			wantType = "text"
		}
		require.Equal(t, wantType, rows[e.Seq].hashType, "%s seq %d", e.Key, e.Seq)
		if e.Seq > 1 {
			require.Equal(t, "null", rows[e.Seq].prevType, "%s seq %d: chains from the row before", e.Key, e.Seq)
		}
	}
	// The chain goes on from the migrated head; the index the unique key
	// gave the oplog is still there.
	tail, err := s.ChainRange(ctx, current.Hash, upper.Hash)
	require.NoError(t, err)
	require.Equal(t, entries[current.Seq:upper.Seq], tail)
	var idx int
	require.NoError(t, s.writer.DB.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_autoindex_oplog_1'`).Scan(&idx))
	require.Equal(t, 1, idx)
	require.NoError(t, s.CheckIntegrity(ctx, true))
}

// onceMerge marks every document it writes: the row holds other bytes
// than the entry under the entry's stamp.
type onceMerge struct{}

func (onceMerge) Name() string { return "merge" }

func (onceMerge) Resolve(_ *domain.Document, e *domain.Entry) (domain.Document, domain.Outcome) {
	d := domain.DocumentFromEntry(e)
	d.Data = append([]byte(`{"merged":true,"was":`), append(e.Data, '}')...)
	return d, domain.Changed
}
