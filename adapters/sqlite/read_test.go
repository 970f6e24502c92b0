package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// readFixture is what one read case sees: a document updated and a document
// created by local commits whose documents are still pending, the updated
// one over a stale row already in the documents table.
type readFixture struct {
	s             *Store
	coll, newColl string // newColl holds only the pending document
	updated       domain.Entry
	created       domain.Entry
}

// readCase checks that one read method sees the fixture's pending writes.
type readCase func(t *testing.T, f readFixture)

// TestEveryReadSeesPendingWrites: every read of the store answers with the
// local writes committed before it, while their documents are still only in
// the pending set (a read that forgot to materialize, or to look at the
// pending set, would return the stale row or nothing). Every exported method
// of *Store must be listed, as a read with its check or as not reading
// documents, so a new read cannot go untested.
func TestEveryReadSeesPendingWrites(t *testing.T) {
	reads := map[string]readCase{
		"Get": func(t *testing.T, f readFixture) {
			d, err := f.s.Get(t.Context(), f.coll, "a")
			require.NoError(t, err)
			require.JSONEq(t, `{"v":2}`, string(d.Data))
			d, err = f.s.Get(t.Context(), f.newColl, "b")
			require.NoError(t, err)
			require.Equal(t, f.created.Stamp, d.Stamp)
		},
		"Find": func(t *testing.T, f readFixture) {
			docs, err := f.s.Find(t.Context(), f.coll, domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "v", Value: 2}})
			require.NoError(t, err)
			require.Len(t, docs, 1)
			require.Equal(t, f.updated.Stamp, docs[0].Stamp)
			docs, err = f.s.Find(t.Context(), f.newColl, domain.Query{})
			require.NoError(t, err)
			require.Len(t, docs, 1)
		},
		"Count": func(t *testing.T, f readFixture) {
			n, err := f.s.Count(t.Context(), f.coll, domain.Cmp{Op: domain.OpEq, Path: "v", Value: 2})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = f.s.Count(t.Context(), f.newColl, nil)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		},
		"CountUpTo": func(t *testing.T, f readFixture) {
			n, err := f.s.CountUpTo(t.Context(), f.coll, domain.Cmp{Op: domain.OpEq, Path: "v", Value: 2}, 5)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = f.s.CountUpTo(t.Context(), f.newColl, nil, 5)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		},
		"Collections": func(t *testing.T, f readFixture) {
			cs, err := f.s.Collections(t.Context())
			require.NoError(t, err)
			require.Contains(t, cs, f.newColl)
		},
		"Snapshot": func(t *testing.T, f readFixture) {
			snap, err := f.s.Snapshot(t.Context())
			require.NoError(t, err)
			got := map[docKey]domain.Timestamp{}
			for _, d := range snap.Documents {
				got[docKey{d.Collection, d.Key}] = d.Stamp
			}
			require.Equal(t, f.updated.Stamp, got[docKey{f.coll, "a"}])
			require.Equal(t, f.created.Stamp, got[docKey{f.newColl, "b"}])
			require.Equal(t, f.created.Hash, snap.Heads["A"])
			require.Equal(t, f.created.Stamp, snap.VectorClock["A"])
		},
		"Backup": func(t *testing.T, f readFixture) {
			path := filepath.Join(t.TempDir(), "backup.db")
			_, err := f.s.Backup(t.Context(), path)
			require.NoError(t, err)
			readFileDocs(t, path, f) // the table itself, not a replay at Open
		},
		"BackupNow": func(t *testing.T, f readFixture) {
			path, err := f.s.BackupNow(t.Context(), t.TempDir(), 1)
			require.NoError(t, err)
			readFileDocs(t, path, f)
		},
		"Checkpoint": func(t *testing.T, f readFixture) {
			require.NoError(t, f.s.Checkpoint(t.Context()))
			// The database file alone, without its WAL, holds them.
			path := filepath.Join(t.TempDir(), "main.db")
			b, err := os.ReadFile(f.s.Path())
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, b, 0o644))
			readFileDocs(t, path, f)
		},
		"EntriesAfter": func(t *testing.T, f readFixture) {
			es, err := f.s.EntriesAfter(t.Context(), f.updated.Stamp, nil, 0, 0)
			require.NoError(t, err)
			require.Equal(t, []string{f.created.Hash}, entryHashes(es))
		},
		"AuthorEntriesAfter": func(t *testing.T, f readFixture) {
			es, err := f.s.AuthorEntriesAfter(t.Context(), "A", f.updated.Stamp, 0)
			require.NoError(t, err)
			require.Equal(t, []string{f.created.Hash}, entryHashes(es))
		},
		"EntriesSinceSeq": func(t *testing.T, f readFixture) {
			es, err := f.s.EntriesSinceSeq(t.Context(), f.updated.Seq-1, 0)
			require.NoError(t, err)
			require.Equal(t, []string{f.updated.Hash, f.created.Hash}, entryHashes(es))
		},
		"ChainRange": func(t *testing.T, f readFixture) {
			es, err := f.s.ChainRange(t.Context(), f.updated.PrevHash, f.created.Hash)
			require.NoError(t, err)
			require.Equal(t, []string{f.updated.Hash, f.created.Hash}, entryHashes(es))
		},
		"CountAuthorEntries": func(t *testing.T, f readFixture) {
			n, err := f.s.CountAuthorEntries(t.Context(), "A", f.updated.Stamp, 0, f.created.Seq)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the write after updated")
			n, err = f.s.CountAuthorEntries(t.Context(), "A", domain.Timestamp{}, f.updated.Seq-1, f.updated.Seq)
			require.NoError(t, err)
			require.Equal(t, 1, n, "only the seq range asked")
		},
		"LinkOf": func(t *testing.T, f readFixture) {
			link, err := f.s.LinkOf(t.Context(), f.created.Hash)
			require.NoError(t, err)
			require.NotNil(t, f.created.Link)
			require.Equal(t, f.created.Link, link)
		},
		"ProofAfter": func(t *testing.T, f readFixture) {
			proof := domain.AuthorProof{PublicKey: make([]byte, 32), Signature: make([]byte, 64)}
			require.NoError(t, f.s.SetProof(t.Context(), f.created.Hash, proof))
			tail, got, err := f.s.ProofAfter(t.Context(), "A", f.updated.Stamp)
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Equal(t, [][]byte{domain.EntryDigest(&f.created)}, tail)
		},
		"LastSeq": func(t *testing.T, f readFixture) {
			seq, err := f.s.LastSeq(t.Context())
			require.NoError(t, err)
			require.Equal(t, f.created.Seq, seq)
		},
		"NewestStamp": func(t *testing.T, f readFixture) {
			ts, err := f.s.NewestStamp(t.Context())
			require.NoError(t, err)
			require.Equal(t, f.created.Stamp, ts)
		},
		"VectorClock": func(t *testing.T, f readFixture) {
			vc, err := f.s.VectorClock(t.Context())
			require.NoError(t, err)
			require.Equal(t, f.created.Stamp, vc["A"])
		},
		"WriteSnapshotFile": func(t *testing.T, f readFixture) {
			path, err := f.s.WriteSnapshotFile(t.Context(), "cluster", ports.SnapshotSigner{})
			require.NoError(t, err)
			defer removeDBFiles(path)
			db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
			require.NoError(t, err)
			defer db.Close()
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM documents WHERE collection = ? AND key = ?`,
				f.created.Collection, f.created.Key).Scan(&n))
			require.Equal(t, 1, n)
		},
		"DocumentHistory": func(t *testing.T, f readFixture) {
			es, err := f.s.DocumentHistory(t.Context(), f.coll, "a", 10)
			require.NoError(t, err)
			require.Len(t, es, 2, "both writes of a, newest first")
			require.Equal(t, f.updated.Hash, es[0].Hash)
			require.JSONEq(t, `{"v":2}`, string(es[0].Data))
			es, err = f.s.DocumentHistory(t.Context(), f.coll, "a", 1)
			require.NoError(t, err)
			require.Len(t, es, 1)
		},
		"Heads": func(t *testing.T, f readFixture) {
			heads, err := f.s.Heads(t.Context())
			require.NoError(t, err)
			require.Equal(t, f.created.Hash, heads["A"])
		},
	}
	// Methods that read no document, oplog entry or clock, or that write.
	notReads := []string{
		"Commit", "ApplyRemote", "ApplySnapshot", "Prune", "EnsureIndex", // writes
		"SavePeer", "Peers", "RemovePeer", "CheckPeerKey", "PeerKey", "GetMeta", "SetMeta", // peers, their keys and meta
		"SetProof", "Compact", "ReclaimSpace", "InstallSnapshotFile", "ReceiveSnapshotFile", // writes
		"StorageStats", // statistics for status and metrics, not data
		"CheckIntegrity", "Ping", "Path", "RestoredFromBackup", "Close",
		"SetClock", // configuration
	}
	typ := reflect.TypeFor[*Store]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		_, isRead := reads[name]
		require.True(t, isRead || slices.Contains(notReads, name),
			"*Store.%s is neither a read case here nor listed as not a read: add it", name)
	}

	s := pendOpen(t, filepath.Join(t.TempDir(), "entgldb.db"))
	wall := pendWall0
	commit := func(coll, key string, v int) domain.Entry {
		t.Helper()
		wall++
		out, err := s.Commit(t.Context(), pendLWW, ports.Write{Entry: domain.Entry{Collection: coll, Key: key, Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"v":%d}`, v), Stamp: domain.Timestamp{Wall: wall, Node: "A"}}})
		require.NoError(t, err)
		return out[0]
	}
	names := make([]string, 0, len(reads))
	for name := range reads {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f := readFixture{s: s, coll: "c_" + name, newColl: "new_" + name}
			commit(f.coll, "a", 1)
			require.NoError(t, s.materialize(t.Context()))
			f.updated = commit(f.coll, "a", 2)
			f.created = commit(f.newColl, "b", 3)
			for _, e := range []domain.Entry{f.updated, f.created} {
				_, pending := s.st.pendingDocument(e.Collection, e.Key)
				require.True(t, pending, "%s/%s is pending before the read", e.Collection, e.Key)
			}
			reads[name](t, f)
		})
	}
}

// readFileDocs checks the fixture's documents are in the documents table of
// the database file at path.
func readFileDocs(t *testing.T, path string, f readFixture) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+escapePath(path))
	require.NoError(t, err)
	defer db.Close()
	for _, e := range []domain.Entry{f.updated, f.created} {
		var data string
		var wall int64
		require.NoError(t, db.QueryRowContext(context.Background(), `SELECT data, wall FROM documents WHERE collection = ? AND key = ?`,
			e.Collection, e.Key).Scan(&data, &wall), "%s/%s", e.Collection, e.Key)
		require.Equal(t, string(e.Data), data)
		require.Equal(t, e.Stamp.Wall, wall)
	}
}

func entryHashes(es []domain.Entry) []string {
	out := make([]string, len(es))
	for i := range es {
		out[i] = es[i].Hash
	}
	return out
}
