package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func autoVacuumOf(t *testing.T, s *Store) int {
	t.Helper()
	var mode int
	require.NoError(t, s.writer.DB.QueryRowContext(t.Context(), "PRAGMA auto_vacuum").Scan(&mode))
	return mode
}

func TestNewDatabaseIsIncrementalAutoVacuum(t *testing.T) {
	t.Parallel()
	s := pendOpen(t, filepath.Join(t.TempDir(), "new.db"))
	require.Equal(t, autoVacuumIncremental, autoVacuumOf(t, s))
}

func TestExistingDatabaseIsConvertedOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = raw.Exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
	require.NoError(t, err)
	var mode int
	require.NoError(t, raw.QueryRow("PRAGMA auto_vacuum").Scan(&mode))
	require.Zero(t, mode, "a file written before incremental auto-vacuum")
	require.NoError(t, raw.Close())

	s := pendOpen(t, path)
	require.Equal(t, autoVacuumIncremental, autoVacuumOf(t, s))
}

// After compaction removes most of the oplog, ReclaimSpace gives the pages
// back: the file and the WAL shrink and no free page is left.
func TestReclaimSpaceShrinksTheFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "space.db")
	s := pendOpen(t, path)
	body := fmt.Appendf(nil, `{"pad":%q}`, strings.Repeat("x", 400))
	for range 40 {
		var writes []ports.Write
		for k := range 100 {
			writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprint("k", k), Op: domain.OpPut, Data: body,
				Stamp: domain.Timestamp{Wall: time.Now().UnixMilli(), Logical: int32(k), Node: "A"}}})
		}
		_, err := s.Commit(ctx, domain.LastWriteWins{}, writes...)
		require.NoError(t, err)
	}
	require.NoError(t, s.Checkpoint(ctx))
	before := fileSize(path) + fileSize(path+"-wal")

	vc, err := s.VectorClock(ctx)
	require.NoError(t, err)
	res, err := s.Compact(ctx, domain.CompactionPolicy{HeldByAll: vc, Now: time.Now().UnixMilli(), OplogRetention: time.Hour, TombstoneRetention: time.Hour})
	require.NoError(t, err)
	require.Equal(t, 3900, res.EntriesRemoved)
	freed, err := s.ReclaimSpace(ctx)
	require.NoError(t, err)
	require.Positive(t, freed)
	var free int
	require.NoError(t, s.writer.DB.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free))
	require.Zero(t, free)
	require.NoError(t, s.Checkpoint(ctx))
	after := fileSize(path) + fileSize(path+"-wal")
	require.Less(t, after, before/4, "database plus WAL: %d bytes before, %d after", before, after)
}

// Compaction leaves pending documents pending, so it must not remove what
// the replay at Open needs: a delete committed after the materialized mark
// stays, and a crash before its document reaches the table still deletes.
func TestCompactionKeepsWhatTheReplayNeeds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "replay.db")
	s := pendOpen(t, path)
	stamp := func(wall int64) domain.Timestamp { return domain.Timestamp{Wall: pendWall0 + wall, Node: "A"} }
	_, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{}`), Stamp: stamp(1)}})
	require.NoError(t, err)
	require.NoError(t, s.materialize(ctx))
	_, err = s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpDelete, Stamp: stamp(2)}, MustExist: true})
	require.NoError(t, err)
	_, err = s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "head", Op: domain.OpPut, Data: []byte(`{}`), Stamp: stamp(3)}})
	require.NoError(t, err)
	mark, maxSeq := pendMarks(t, s)
	require.Less(t, mark, maxSeq, "the delete's document is pending")

	vc, err := s.VectorClock(ctx)
	require.NoError(t, err)
	_, err = s.Compact(ctx, domain.CompactionPolicy{HeldByAll: vc, Now: pendWall0 + 1_000_000, OplogRetention: 0, TombstoneRetention: 0})
	require.NoError(t, err)
	crashed := pendOpen(t, pendCrashCopy(t, path))
	_, err = crashed.Get(ctx, "c", "k")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(err), "the delete survives the crash")
}
