package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// TestPruneKeepsSeqIncreasing: seq is the rowid without AUTOINCREMENT, so
// Prune must keep the row with the greatest seq, or the next entry would
// reuse a seq a change-feed reader has already passed.
func TestPruneKeepsSeqIncreasing(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	var in []domain.Entry
	prev := ""
	for i := range 5 {
		e := domain.Entry{Collection: "c", Key: fmt.Sprintf("k%d", i), Op: domain.OpPut, Data: []byte(`{}`),
			Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "B"}}
		e.Seal(prev)
		prev = e.Hash
		in = append(in, e)
	}
	res, err := s.ApplyRemote(ctx, lww, in)
	require.NoError(t, err)
	last := res.Applied[4].Seq

	n, err := s.Prune(ctx, wall0+100) // every entry is older than the horizon
	require.NoError(t, err)
	require.Equal(t, 4, n, "all but the entry with the greatest seq")
	kept, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, kept, 1)
	require.Equal(t, last, kept[0].Seq)
	// The chain resumes after the newest dropped entry.
	got, err := s.ChainRange(ctx, in[3].Hash, in[4].Hash)
	require.NoError(t, err)
	require.Equal(t, []string{in[4].Hash}, []string{got[0].Hash})

	out, err := s.Commit(ctx, lww, ports.Write{Entry: domain.Entry{Collection: "c", Key: "new", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: wall0 + 200, Node: "A"}}})
	require.NoError(t, err)
	require.Greater(t, out[0].Seq, last)
	after, err := s.EntriesSinceSeq(ctx, last, 0)
	require.NoError(t, err)
	require.Len(t, after, 1, "a reader at the old greatest seq sees the new entry")

	n, err = s.Prune(ctx, wall0+1000)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	kept, err = s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{out[0].Seq}, []int64{kept[0].Seq})
}

// replayOlder is last-write-wins that asks for a replay when an entry
// older than the document arrives (as an order-sensitive resolver would).
type replayOlder struct{}

func (replayOlder) Name() string { return "replay-older" }

func (replayOlder) Resolve(cur *domain.Document, e *domain.Entry) (domain.Document, domain.Outcome) {
	if cur != nil && e.Stamp.Before(cur.Stamp) {
		return domain.Document{}, domain.NeedsReplay
	}
	return domain.LastWriteWins{}.Resolve(cur, e)
}

// TestDocIndexBuiltByFirstReplay: last-write-wins never reads the oplog by
// document, so the (collection, key) index is absent until a replay needs
// it, and then kept.
func TestDocIndexBuiltByFirstReplay(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ctx := t.Context()
	hasIndex := func() bool {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "entgldb.db")+"?mode=ro")
		require.NoError(t, err)
		defer db.Close()
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'oplog_doc'`).Scan(&n))
		return n == 1
	}
	newer := domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{"v":2}`), Stamp: domain.Timestamp{Wall: wall0 + 2, Node: "B"}}
	newer.Seal("")
	older := domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{"v":1}`), Stamp: domain.Timestamp{Wall: wall0 + 1, Node: "C"}}
	older.Seal("")

	_, err := s.ApplyRemote(ctx, replayOlder{}, []domain.Entry{newer})
	require.NoError(t, err)
	require.False(t, hasIndex(), "no replay yet")
	res, err := s.ApplyRemote(ctx, replayOlder{}, []domain.Entry{older})
	require.NoError(t, err)
	require.Empty(t, res.Changed, "the replay ends on the newer entry")
	require.True(t, hasIndex())
	d, err := s.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.JSONEq(t, `{"v":2}`, string(d.Data))
	require.NoError(t, s.Close())

	// Reopened, the index stays and replays still work.
	s, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "entgldb.db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	oldest := domain.Entry{Collection: "c", Key: "k", Op: domain.OpDelete, Stamp: domain.Timestamp{Wall: wall0, Node: "D"}}
	oldest.Seal("")
	_, err = s.ApplyRemote(ctx, replayOlder{}, []domain.Entry{oldest})
	require.NoError(t, err)
	require.True(t, hasIndex())
}
