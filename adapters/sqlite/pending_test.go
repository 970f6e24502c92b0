package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Tests of the pending set (pending.go): local last-write-wins writes that
// reach the oplog alone and the documents table later, the replay at Open
// of what a crash left unmaterialized, and EntriesAfter's per-author merge.

var pendLWW = domain.LastWriteWins{}

const pendWall0 int64 = 1_700_000_000_000

func pendOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() }) // Close is idempotent; tests close explicitly where it matters
	return s
}

// pendCrashCopy copies what a kill -9 leaves on disk of the open store at
// src (the database file and its WAL; SQLite rebuilds the -shm index) into a
// new directory and returns the copy's path.
func pendCrashCopy(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(src + suffix)
		require.NoError(t, err)
		out, err := os.Create(dst + suffix)
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, err)
		require.NoError(t, in.Close())
		require.NoError(t, out.Close())
	}
	return dst
}

// pendMarks returns meta materialized_seq and max(seq) of the oplog, read
// through the store's own writer connection (which sees every commit).
func pendMarks(t *testing.T, s *Store) (mark, maxSeq int64) {
	t.Helper()
	var v string
	require.NoError(t, s.writer.DB.QueryRowContext(t.Context(), `SELECT value FROM meta WHERE key = ?`, metaMaterializedSeq).Scan(&v))
	mark, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err)
	require.NoError(t, s.writer.DB.QueryRowContext(t.Context(), `SELECT coalesce(max(seq), 0) FROM oplog`).Scan(&maxSeq))
	return mark, maxSeq
}

func pendPendingLen(s *Store) int {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return len(s.st.pending)
}

type pendDoc struct {
	Data    string
	Stamp   domain.Timestamp
	Deleted bool
}

// pendLive maps each live document of the collections to its version, as
// Get sees it (missing: NOT_FOUND).
func pendGetAll(t *testing.T, st interface {
	Get(context.Context, string, string) (domain.Document, error)
}, keys []docKey) map[docKey]pendDoc {
	t.Helper()
	out := map[docKey]pendDoc{}
	for _, k := range keys {
		d, err := st.Get(t.Context(), k.collection, k.key)
		if domain.CodeOf(err) == domain.CodeNotFound {
			continue
		}
		require.NoError(t, err, "%v", k)
		out[k] = pendDoc{Data: string(d.Data), Stamp: d.Stamp, Deleted: d.Deleted}
	}
	return out
}

// pendFindAll is what Find and Count report for each collection.
func pendFindAll(t *testing.T, st ports.DocumentStore, collections []string) (map[docKey]pendDoc, map[string]int) {
	t.Helper()
	docs := map[docKey]pendDoc{}
	counts := map[string]int{}
	for _, c := range collections {
		found, err := st.Find(t.Context(), c, domain.Query{})
		require.NoError(t, err)
		for _, d := range found {
			docs[docKey{c, d.Key}] = pendDoc{Data: string(d.Data), Stamp: d.Stamp, Deleted: d.Deleted}
		}
		n, err := st.Count(t.Context(), c, nil)
		require.NoError(t, err)
		counts[c] = n
	}
	return docs, counts
}

type pendClockState struct {
	vc     domain.VectorClock
	heads  map[string]string
	newest domain.Timestamp
}

func pendClock(t *testing.T, st ports.OplogReader) pendClockState {
	t.Helper()
	var c pendClockState
	var err error
	c.vc, err = st.VectorClock(t.Context())
	require.NoError(t, err)
	c.heads, err = st.Heads(t.Context())
	require.NoError(t, err)
	c.newest, err = st.NewestStamp(t.Context())
	require.NoError(t, err)
	return c
}

var pendCollections = []string{"alpha", "beta", "gamma"}

func pendKeys() []docKey {
	var keys []docKey
	for _, c := range pendCollections {
		for i := range 12 {
			keys = append(keys, docKey{c, fmt.Sprintf("k%02d", i)})
		}
	}
	return keys
}

// pendWriter commits the same writes to the store under test and to the
// memory adapter (the model), with increasing stamps of author "A".
type pendWriter struct {
	t    *testing.T
	rng  *rand.Rand
	s    *Store
	m    *memory.Store
	wall int64
	keys []docKey
}

// put commits one fast-path write (no precondition: the oplog entry alone).
// A few are deletes without precondition, which take the same path.
func (w *pendWriter) put() domain.Entry {
	w.t.Helper()
	w.wall += 1 + int64(w.rng.IntN(3))
	k := w.keys[w.rng.IntN(len(w.keys))]
	e := domain.Entry{Collection: k.collection, Key: k.key, Op: domain.OpPut,
		Data: fmt.Appendf(nil, `{"w":%d,"k":%q}`, w.wall, k.key), Stamp: domain.Timestamp{Wall: w.wall, Logical: int32(w.rng.IntN(3)), Node: "A"}}
	if w.rng.IntN(10) == 0 {
		e.Op, e.Data = domain.OpDelete, nil
	}
	return w.commit(ports.Write{Entry: e})
}

func (w *pendWriter) commit(wr ports.Write) domain.Entry {
	w.t.Helper()
	want, err := w.m.Commit(w.t.Context(), pendLWW, wr)
	require.NoError(w.t, err)
	got, err := w.s.Commit(w.t.Context(), pendLWW, wr)
	require.NoError(w.t, err)
	require.Len(w.t, got, 1)
	require.Equal(w.t, want[0].Hash, got[0].Hash)
	require.Equal(w.t, want[0].PrevHash, got[0].PrevHash)
	return got[0]
}

// deleteLive deletes a live key with MustExist (which materializes first).
func (w *pendWriter) deleteLive() {
	w.t.Helper()
	for _, k := range w.keys {
		if _, err := w.m.Get(w.t.Context(), k.collection, k.key); err != nil {
			continue
		}
		w.wall++
		w.commit(ports.Write{MustExist: true, Entry: domain.Entry{Collection: k.collection, Key: k.key, Op: domain.OpDelete,
			Stamp: domain.Timestamp{Wall: w.wall, Node: "A"}}})
		return
	}
	w.t.Fatal("no live key to delete")
}

// remote applies a few entries of author "R" to both stores (a write that
// materializes first).
func (w *pendWriter) remote(prev *string, n int) {
	w.t.Helper()
	var es []domain.Entry
	for range n {
		w.wall++
		k := w.keys[w.rng.IntN(len(w.keys))]
		e := domain.Entry{Collection: k.collection, Key: k.key, Op: domain.OpPut, Data: fmt.Appendf(nil, `{"r":%d}`, w.wall),
			Stamp: domain.Timestamp{Wall: w.wall, Node: "R"}}
		e.Seal(*prev)
		*prev = e.Hash
		es = append(es, e)
	}
	_, err := w.m.ApplyRemote(w.t.Context(), pendLWW, es)
	require.NoError(w.t, err)
	_, err = w.s.ApplyRemote(w.t.Context(), pendLWW, es)
	require.NoError(w.t, err)
}

// pendCheckSame compares a store with the model: Get, Find, Count, clocks.
func pendCheckSame(t *testing.T, got *Store, m *memory.Store, keys []docKey) {
	t.Helper()
	wantGet := pendGetAll(t, m, keys)
	require.Equal(t, wantGet, pendGetAll(t, got, keys), "Get")
	wantFind, wantCount := pendFindAll(t, m, pendCollections)
	gotFind, gotCount := pendFindAll(t, got, pendCollections)
	require.Equal(t, wantFind, gotFind, "Find")
	require.Equal(t, wantCount, gotCount, "Count")
	require.Equal(t, wantGet, gotFind, "Get and Find agree")
	require.Equal(t, pendClock(t, m), pendClock(t, got), "clocks")
}

// TestPendingCrashReplay: local writes committed but not materialized when
// the process dies are in the oplog only; Open must replay them so every
// read and the clock are as the live store had them, and the next write
// chains onto the newest head.
func TestPendingCrashReplay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(w *pendWriter)
	}{
		{"fast-path only", func(w *pendWriter) {
			for range 100 {
				w.put()
			}
		}},
		{"interleaved with materializing writes", func(w *pendWriter) {
			prevR := ""
			for i := range 100 {
				w.put()
				switch i % 25 {
				case 10:
					w.deleteLive() // materializes, moves the mark
				case 17:
					w.remote(&prevR, 3)
				}
			}
			w.deleteLive()
			for range 7 { // pending again after the last materialization
				w.put()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "entgldb.db")
			s := pendOpen(t, path)
			w := &pendWriter{t: t, rng: rand.New(rand.NewPCG(3, uint64(len(tc.name)))), s: s, m: memory.New(), wall: pendWall0, keys: pendKeys()}
			tc.run(w)

			// The crash must find work to replay, or the test proves nothing.
			require.Positive(t, pendPendingLen(s), "writes pending before the crash")
			mark, maxSeq := pendMarks(t, s)
			require.Less(t, mark, maxSeq, "entries after the materialized mark")
			before := pendClock(t, s)

			crashed := pendCrashCopy(t, path)
			c := pendOpen(t, crashed)
			require.Zero(t, pendPendingLen(c), "Open materializes what it replays")
			mark, maxSeqCopy := pendMarks(t, c)
			require.Equal(t, maxSeq, maxSeqCopy)
			require.Equal(t, maxSeq, mark, "materialized_seq after Open")
			require.Equal(t, before, pendClock(t, c), "clocks survive the crash")
			pendCheckSame(t, c, w.m, w.keys)
			// The vclock table was brought up to date too: a second
			// open (no replay left) has the same heads.
			require.NoError(t, c.Close())
			c = pendOpen(t, crashed)
			require.Equal(t, before, pendClock(t, c), "clocks after a clean reopen")

			// The next write chains onto the newest head, in the copy
			// as in the original.
			w.wall++
			next := ports.Write{Entry: domain.Entry{Collection: "alpha", Key: "after", Op: domain.OpPut, Data: []byte(`{}`),
				Stamp: domain.Timestamp{Wall: w.wall, Node: "A"}}}
			got, err := c.Commit(ctx, pendLWW, next)
			require.NoError(t, err)
			require.Equal(t, before.heads["A"], got[0].PrevHash)
			require.Greater(t, got[0].Seq, maxSeq, "seq keeps growing")
			orig := w.commit(next)
			require.Equal(t, orig.Hash, got[0].Hash)

			// A second crash of the recovered store (pending again) also
			// replays.
			w.s = c
			for range 20 {
				w.put()
			}
			mark, maxSeq = pendMarks(t, c)
			require.Less(t, mark, maxSeq)
			before = pendClock(t, c)
			again := pendOpen(t, pendCrashCopy(t, crashed))
			require.Equal(t, before, pendClock(t, again))
			pendCheckSame(t, again, w.m, append(w.keys, docKey{"alpha", "after"}))
		})
	}
}

// TestPendingGetSeesNewest: a pending write older than the stored document
// (a remote entry with a later stamp arrived first) must not hide it, before
// or after materialization; a pending tombstone hides an older document.
func TestPendingGetSeesNewest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "entgldb.db"))
	r := domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{"v":"remote"}`), Stamp: domain.Timestamp{Wall: pendWall0 + 10, Node: "R"}}
	r.Seal("")
	_, err := s.ApplyRemote(ctx, pendLWW, []domain.Entry{r})
	require.NoError(t, err)
	_, err = s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{"v":"old local"}`),
		Stamp: domain.Timestamp{Wall: pendWall0 + 5, Node: "A"}}})
	require.NoError(t, err)
	require.Equal(t, 1, pendPendingLen(s))
	d, err := s.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.Equal(t, r.Stamp, d.Stamp)
	n, err := s.Count(ctx, "c", nil) // materializes
	require.NoError(t, err)
	require.Equal(t, 1, n)
	d, err = s.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.Equal(t, r.Stamp, d.Stamp, "materializing an older write does not overwrite")

	_, err = s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpDelete,
		Stamp: domain.Timestamp{Wall: pendWall0 + 20, Node: "A"}}})
	require.NoError(t, err)
	require.Equal(t, 1, pendPendingLen(s), "a delete without precondition is pending too")
	_, err = s.Get(ctx, "c", "k")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(err))
	n, err = s.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Zero(t, n)

	// Two pending writes of one key, the later commit with the older stamp
	// (another local author whose clock lags): the newer stamp stays, in
	// the pending set, once materialized, and in a crash replay (which
	// reads the entries in seq order).
	path := filepath.Join(t.TempDir(), "entgldb.db")
	s = pendOpen(t, path)
	newer := domain.Timestamp{Wall: pendWall0 + 30, Node: "A"}
	for _, ts := range []domain.Timestamp{newer, {Wall: pendWall0 + 25, Node: "B"}} {
		_, err = s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"by":%q}`, ts.Node), Stamp: ts}})
		require.NoError(t, err)
	}
	require.Equal(t, 1, pendPendingLen(s))
	d, err = s.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.Equal(t, newer, d.Stamp)
	crashed := pendOpen(t, pendCrashCopy(t, path))
	d, err = crashed.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.Equal(t, newer, d.Stamp, "replayed")
	found, err := s.Find(ctx, "c", domain.Query{})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, newer, found[0].Stamp, "materialized")
}

// TestPendingThresholds: the write that fills the pending set (by count or
// by bytes) materializes it, so a crash replays at most that much.
func TestPendingThresholds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "entgldb.db"))
	wall := pendWall0
	commit := func(key string, data []byte) {
		wall++
		_, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: key, Op: domain.OpPut, Data: data,
			Stamp: domain.Timestamp{Wall: wall, Node: "A"}}})
		require.NoError(t, err)
	}
	for i := range pendingMaxDocs - 1 {
		commit(fmt.Sprintf("k%d", i), []byte(`{}`))
		require.Equal(t, i+1, pendPendingLen(s))
	}
	commit("last", []byte(`{}`))
	require.Zero(t, pendPendingLen(s), "the 256th pending document materializes")
	mark, maxSeq := pendMarks(t, s)
	require.Equal(t, maxSeq, mark)

	big := []byte(`{"pad":"` + strings.Repeat("x", pendingMaxBytes/4) + `"}`)
	for i := range 3 {
		commit(fmt.Sprintf("big%d", i), big)
		require.Equal(t, i+1, pendPendingLen(s))
	}
	commit("big3", big)
	require.Zero(t, pendPendingLen(s), "a MiB pending materializes")
	// Overwriting one key keeps one pending document and its size.
	for range 10 {
		commit("same", big)
	}
	require.Equal(t, 1, pendPendingLen(s))
	s.st.mu.RLock()
	require.Equal(t, len(big), s.st.pendingBytes)
	s.st.mu.RUnlock()
}

// pendEntryView is what EntriesAfter must agree on (Seq is each store's own).
type pendEntryView struct {
	Collection, Key string
	Op              domain.Op
	Data            string
	Stamp           domain.Timestamp
	Hash, PrevHash  string
}

func pendView(es []domain.Entry) []pendEntryView {
	out := make([]pendEntryView, len(es))
	for i, e := range es {
		out[i] = pendEntryView{e.Collection, e.Key, e.Op, string(e.Data), e.Stamp, e.Hash, e.PrevHash}
	}
	return out
}

// TestEntriesAfterMatchesMemory is a differential test of EntriesAfter's
// per-author windows: entries of five authors crowd into few (wall,
// logical) groups (across and within authors, one group larger than every
// window), and paging through with random limits must give the memory
// adapter's pages, which sort the whole oplog.
func TestEntriesAfterMatchesMemory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "entgldb.db"))
	m := memory.New()
	rng := rand.New(rand.NewPCG(5, 8))
	authors := []string{"n1", "n2", "n3", "n4", "n5"}
	collections := []string{"a", "b", "c", "d"}

	type slot struct {
		wall  int64
		logic int32
	}
	var all []domain.Entry
	for ai, author := range authors {
		seen := map[string]bool{}
		var mine []domain.Entry
		add := func(st slot, key string) {
			e := domain.Entry{Collection: collections[rng.IntN(len(collections))], Key: key, Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"a":%q,"k":%q}`, author, key), Stamp: domain.Timestamp{Wall: st.wall, Logical: st.logic, Node: author}}
			if rng.IntN(8) == 0 {
				e.Op, e.Data = domain.OpDelete, nil
			}
			id := fmt.Sprint(e.Collection, "/", e.Key, "@", st)
			if seen[id] {
				return
			}
			seen[id] = true
			mine = append(mine, e)
		}
		for range 100 {
			// 25 walls x 2 logicals: most groups hold entries of several
			// authors, and often several of one author.
			add(slot{pendWall0 + int64(rng.IntN(25)), int32(rng.IntN(2))}, fmt.Sprintf("k%d", rng.IntN(30)))
		}
		if ai == 2 {
			// One author's group larger than the default window (512)
			// and than any maxEntries+1.
			for i := range 600 {
				add(slot{pendWall0 + 20, 1}, fmt.Sprintf("big%d", i))
			}
		}
		if ai == 4 {
			// A group larger than maxEntries+1 spread over... one author
			// at the very start, so it is the first group of page one.
			for i := range 40 {
				add(slot{pendWall0 - 1, 0}, fmt.Sprintf("first%d", i))
			}
		}
		// The chain in stamp order (keys break ties: any order works as
		// long as both stores get the same entries).
		slices.SortStableFunc(mine, func(a, b domain.Entry) int { return a.Stamp.Compare(b.Stamp) })
		prev := ""
		for i := range mine {
			mine[i].Seal(prev)
			prev = mine[i].Hash
		}
		all = append(all, mine...)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for start := 0; start < len(all); {
		n := min(1+rng.IntN(300), len(all)-start)
		call := all[start : start+n]
		start += n
		_, err := m.ApplyRemote(ctx, pendLWW, call)
		require.NoError(t, err)
		_, err = s.ApplyRemote(ctx, pendLWW, call)
		require.NoError(t, err)
	}
	// A few local writes still pending when we read: EntriesAfter reads the
	// oplog, where they already are.
	for i := range 5 {
		w := ports.Write{Entry: domain.Entry{Collection: "a", Key: fmt.Sprintf("local%d", i), Op: domain.OpPut, Data: []byte(`{}`),
			Stamp: domain.Timestamp{Wall: pendWall0 + 20, Logical: 1, Node: "local"}}}
		_, err := m.Commit(ctx, pendLWW, w)
		require.NoError(t, err)
		_, err = s.Commit(ctx, pendLWW, w)
		require.NoError(t, err)
	}
	require.Positive(t, pendPendingLen(s))

	filters := [][]string{nil, {"a"}, {"b", "d"}, {"a", "b", "c", "d"}, {"none"}}
	for run := range len(filters) {
		filter := filters[run%len(filters)]
		whole, err := m.EntriesAfter(ctx, domain.Timestamp{}, filter, 0, 0)
		require.NoError(t, err)
		var pages []domain.Entry
		var cursor domain.Timestamp
		for calls := 0; ; calls++ {
			require.Less(t, calls, len(all)+10, "paging makes progress")
			maxEntries := rng.IntN(21) // 0: no limit
			maxBytes := 0
			if rng.IntN(3) == 0 {
				maxBytes = 200 + rng.IntN(2000)
			}
			want, err := m.EntriesAfter(ctx, cursor, filter, maxEntries, maxBytes)
			require.NoError(t, err)
			got, err := s.EntriesAfter(ctx, cursor, filter, maxEntries, maxBytes)
			require.NoError(t, err)
			require.Equal(t, pendView(want), pendView(got), "run %d page %d after %v (max %d entries, %d bytes)", run, calls, cursor, maxEntries, maxBytes)
			if len(got) == 0 {
				break
			}
			// Whole groups only: the first group always whole, the page
			// beyond it within the limits.
			first := 0
			for first < len(got) && got[first].Stamp.Wall == got[0].Stamp.Wall && got[first].Stamp.Logical == got[0].Stamp.Logical {
				first++
			}
			if maxEntries > 0 && len(got) > first {
				require.LessOrEqual(t, len(got), maxEntries)
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1].Stamp, got[i].Stamp
				require.True(t, a.Wall < b.Wall || a.Wall == b.Wall && (a.Logical < b.Logical || a.Logical == b.Logical && a.Node <= b.Node),
					"HLC order at %d", i)
			}
			pages = append(pages, got...)
			last := got[len(got)-1].Stamp
			// The client asks after the last (wall, logical) group.
			cursor = domain.Timestamp{Wall: last.Wall, Logical: last.Logical, Node: "\xff\xff\xff\xff"}
		}
		require.Equal(t, pendView(whole), pendView(pages), "run %d: pages concatenated", run)
	}

	// The 600-entry group comes whole even when at most one entry is asked.
	got, err := s.EntriesAfter(ctx, domain.Timestamp{Wall: pendWall0 + 20}, nil, 1, 1)
	require.NoError(t, err)
	want, err := m.EntriesAfter(ctx, domain.Timestamp{Wall: pendWall0 + 20}, nil, 1, 1)
	require.NoError(t, err)
	require.Greater(t, len(got), 600)
	require.Equal(t, pendView(want), pendView(got))
	got, err = s.EntriesAfter(ctx, domain.Timestamp{Wall: pendWall0 + 20}, nil, 0, 0)
	require.NoError(t, err)
	want, err = m.EntriesAfter(ctx, domain.Timestamp{Wall: pendWall0 + 20}, nil, 0, 0)
	require.NoError(t, err)
	require.Equal(t, pendView(want), pendView(got))
}

// TestPendingConcurrent runs local fast-path writers, readers and a remote
// applier at once (meant for -race): every Get after a Commit returned sees
// that version or a newer one, and the end state is the one the memory
// adapter computes from the same entries; a crash copy of the end state
// replays to it as well.
func TestPendingConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "entgldb.db")
	s := pendOpen(t, path)
	const writers, commitsPerWriter, remoteEntries = 3, 150, 400
	shared := func(i int) string { return fmt.Sprintf("s%d", i%20) }

	// The remote author's chain, built up front.
	remote := make([]domain.Entry, remoteEntries)
	prev := ""
	for i := range remote {
		e := domain.Entry{Collection: "shared", Key: shared(i * 7), Op: domain.OpPut, Data: fmt.Appendf(nil, `{"r":%d}`, i),
			Stamp: domain.Timestamp{Wall: pendWall0 + int64(i)*2 + 1, Node: "R"}}
		if i%2 == 1 {
			e.Collection, e.Key = "own", fmt.Sprintf("r%d", i%30)
		}
		e.Seal(prev)
		prev = e.Hash
		remote[i] = e
	}

	var (
		wg        sync.WaitGroup
		writing   atomic.Int32
		mu        sync.Mutex
		committed []domain.Entry
		errs      = make(chan error, 16)
	)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	writing.Store(writers + 1)
	for w := range writers {
		wg.Go(func() {
			defer writing.Add(-1)
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			author := fmt.Sprintf("L%d", w)
			var mine []domain.Entry
			defer func() {
				mu.Lock()
				committed = append(committed, mine...)
				mu.Unlock()
			}()
			for i := range commitsPerWriter {
				// Walls interleave with the remote author's and the
				// other writers', so shared keys change hands.
				e := domain.Entry{Op: domain.OpPut, Data: fmt.Appendf(nil, `{"w":%q,"i":%d}`, author, i),
					Stamp: domain.Timestamp{Wall: pendWall0 + int64(i)*6 + int64(w)*2, Node: author}}
				if rng.IntN(3) == 0 {
					e.Collection, e.Key = "shared", shared(rng.IntN(20))
				} else {
					e.Collection, e.Key = "own", fmt.Sprintf("%s-%d", author, rng.IntN(40))
				}
				if rng.IntN(10) == 0 {
					e.Op, e.Data = domain.OpDelete, nil
				}
				out, err := s.Commit(ctx, pendLWW, ports.Write{Entry: e})
				if err != nil {
					fail(fmt.Errorf("commit: %w", err))
					return
				}
				mine = append(mine, out[0])
				// own keys are this writer's alone: Get must show exactly
				// this write; a shared key may have moved on since.
				own := e.Collection == "own"
				d, err := s.Get(ctx, e.Collection, e.Key)
				switch {
				case domain.CodeOf(err) == domain.CodeNotFound:
					if own && e.Op != domain.OpDelete {
						fail(fmt.Errorf("read-your-writes: %s/%s not found after commit at %v", e.Collection, e.Key, e.Stamp))
						return
					}
				case err != nil:
					fail(fmt.Errorf("get: %w", err))
					return
				case own && (e.Op == domain.OpDelete || d.Stamp != e.Stamp):
					fail(fmt.Errorf("read-your-writes: %s/%s at %v after commit of op %v at %v", e.Collection, e.Key, d.Stamp, e.Op, e.Stamp))
					return
				case d.Stamp.Compare(e.Stamp) < 0:
					fail(fmt.Errorf("read-your-writes: %s/%s at %v after commit at %v", e.Collection, e.Key, d.Stamp, e.Stamp))
					return
				}
				if own && i%25 == 0 {
					// Find materializes; it must show this write too.
					found, err := s.Find(ctx, "own", domain.Query{})
					if err != nil {
						fail(fmt.Errorf("find: %w", err))
						return
					}
					at := slices.IndexFunc(found, func(d domain.Document) bool { return d.Key == e.Key })
					if e.Op == domain.OpDelete && at >= 0 || e.Op == domain.OpPut && (at < 0 || found[at].Stamp != e.Stamp) {
						fail(fmt.Errorf("find after commit of %s/%s (op %v): index %d", e.Collection, e.Key, e.Op, at))
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		defer writing.Add(-1)
		rng := rand.New(rand.NewPCG(1, 2))
		for start := 0; start < len(remote); {
			n := min(1+rng.IntN(40), len(remote)-start)
			if _, err := s.ApplyRemote(ctx, pendLWW, remote[start:start+n]); err != nil {
				fail(fmt.Errorf("apply remote: %w", err))
				return
			}
			start += n
		}
	})
	for range 2 {
		wg.Go(func() {
			for writing.Load() > 0 {
				for _, c := range []string{"own", "shared"} {
					found, err := s.Find(ctx, c, domain.Query{})
					if err != nil {
						fail(fmt.Errorf("find: %w", err))
						return
					}
					if _, err := s.Count(ctx, c, nil); err != nil {
						fail(fmt.Errorf("count: %w", err))
						return
					}
					for _, d := range found {
						if d.Deleted || len(d.Data) == 0 {
							fail(fmt.Errorf("find returned a tombstone %s/%s", c, d.Key))
							return
						}
					}
				}
				if _, err := s.EntriesAfter(ctx, domain.Timestamp{}, nil, 50, 0); err != nil {
					fail(fmt.Errorf("entries after: %w", err))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, committed, writers*commitsPerWriter)

	// The model: the same entries, applied to the memory adapter.
	m := memory.New()
	_, err := m.ApplyRemote(ctx, pendLWW, append(append([]domain.Entry(nil), remote...), committed...))
	require.NoError(t, err)
	// Each writer's chain links up in commit order.
	for w := range writers {
		var chain []domain.Entry
		for _, e := range committed {
			if e.Stamp.Node == fmt.Sprintf("L%d", w) {
				chain = append(chain, e)
			}
		}
		require.Equal(t, -1, domain.VerifyChain("", chain), "writer %d's chain", w)
	}
	var keys []docKey
	for i := range 20 {
		keys = append(keys, docKey{"shared", shared(i)})
	}
	for i := range 30 {
		keys = append(keys, docKey{"own", fmt.Sprintf("r%d", i)})
	}
	for w := range writers {
		for i := range 40 {
			keys = append(keys, docKey{"own", fmt.Sprintf("L%d-%d", w, i)})
		}
	}
	check := func(got *Store) {
		t.Helper()
		require.Equal(t, pendGetAll(t, m, keys), pendGetAll(t, got, keys), "Get")
		wantSnap, err := m.Snapshot(ctx)
		require.NoError(t, err)
		gotSnap, err := got.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, pendSnapDocs(wantSnap.Documents), pendSnapDocs(gotSnap.Documents))
		require.Equal(t, wantSnap.Heads, gotSnap.Heads)
		require.Equal(t, wantSnap.VectorClock, gotSnap.VectorClock)
	}
	// Leave some writes pending for the crash copy.
	for i := range 5 {
		w := ports.Write{Entry: domain.Entry{Collection: "own", Key: fmt.Sprintf("L0-%d", i), Op: domain.OpPut, Data: []byte(`{"late":1}`),
			Stamp: domain.Timestamp{Wall: pendWall0 + 10_000 + int64(i), Node: "L0"}}}
		_, err := m.Commit(ctx, pendLWW, w)
		require.NoError(t, err)
		_, err = s.Commit(ctx, pendLWW, w)
		require.NoError(t, err)
	}
	require.Positive(t, pendPendingLen(s))
	crashed := pendOpen(t, pendCrashCopy(t, path))
	check(crashed)
	check(s)
}

func pendSnapDocs(docs []domain.Document) map[docKey]pendDoc {
	out := map[docKey]pendDoc{}
	for _, d := range docs {
		out[docKey{d.Collection, d.Key}] = pendDoc{Data: string(d.Data), Stamp: d.Stamp, Deleted: d.Deleted}
	}
	return out
}

// TestPendingMaintenance: the operations that copy or drop what the
// pending set relies on materialize first. Prune drops oplog entries a
// replay would need; Checkpoint and Backup produce files meant to stand on
// their own (no WAL, no replay).
func TestPendingMaintenance(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "entgldb.db")
	s := pendOpen(t, path)
	w := &pendWriter{t: t, rng: rand.New(rand.NewPCG(21, 22)), s: s, m: memory.New(), wall: pendWall0, keys: pendKeys()}
	pending := func() {
		t.Helper()
		for range 30 {
			w.put()
		}
		require.Positive(t, pendPendingLen(s))
	}

	// Backup: the copy holds every document without a replay.
	pending()
	backup := filepath.Join(dir, "backup.db")
	_, err := s.Backup(ctx, backup)
	require.NoError(t, err)
	pendRawMarked(t, backup)
	pendCheckSame(t, pendOpen(t, backup), w.m, w.keys)

	// Checkpoint: the database file alone (no WAL) holds everything.
	pending()
	require.NoError(t, s.Checkpoint(ctx))
	alone := filepath.Join(t.TempDir(), "alone.db")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(alone, raw, 0o600))
	pendRawMarked(t, alone)
	pendCheckSame(t, pendOpen(t, alone), w.m, w.keys)

	// Prune of every entry but the last: the pending documents must be in
	// the table first, since their entries are gone after a crash.
	pending()
	n, err := s.Prune(ctx, w.wall+1)
	require.NoError(t, err)
	require.Positive(t, n)
	_, err = w.m.Prune(ctx, w.wall+1)
	require.NoError(t, err)
	pendCheckSame(t, pendOpen(t, pendCrashCopy(t, path)), w.m, w.keys)
	pendCheckSame(t, s, w.m, w.keys)
}

// pendRawMarked checks, before any Open replays, that a file's documents
// hold every entry: materialized_seq is max(seq).
func pendRawMarked(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+escapePath(path))
	require.NoError(t, err)
	defer db.Close()
	var mark string
	var maxSeq int64
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT value FROM meta WHERE key = ?`, metaMaterializedSeq).Scan(&mark))
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT coalesce(max(seq), 0) FROM oplog`).Scan(&maxSeq))
	require.Equal(t, strconv.FormatInt(maxSeq, 10), mark, "%s needs no replay", path)
}

// TestPendingOwnsItsBytes: the pending set keeps its own copy of a
// document, neither the caller's buffer nor the one Get returns.
func TestPendingOwnsItsBytes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "entgldb.db"))
	buf := []byte(`{"v":1}`)
	_, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: buf,
		Stamp: domain.Timestamp{Wall: pendWall0, Node: "A"}}})
	require.NoError(t, err)
	require.Equal(t, 1, pendPendingLen(s))
	copy(buf, `{"v":2}`)
	d, err := s.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.Equal(t, `{"v":1}`, string(d.Data))
	copy(d.Data, `{"v":3}`)
	d, err = s.Get(ctx, "c", "k")
	require.NoError(t, err)
	require.Equal(t, `{"v":1}`, string(d.Data))
	found, err := s.Find(ctx, "c", domain.Query{})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, `{"v":1}`, string(found[0].Data))
}

// A Close whose flush of the pending set runs out of time (a loaded machine)
// still closes cleanly: the documents are durable in the oplog and the next
// Open replays them.
func TestCloseFlushOutOfTimeLeavesReplay(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "close.db")
	s := pendOpen(t, path)
	require.NoError(t, s.SetMeta(ctx, "node_id", "A"))
	for k := range 20 {
		_, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprint("k", k), Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"n":%d}`, k), Stamp: domain.Timestamp{Wall: pendWall0 + int64(k), Node: "A"}}})
		require.NoError(t, err)
	}
	require.True(t, s.st.hasPending(), "the writes wait in the pending set")

	prev := closeFlushTimeout
	closeFlushTimeout = time.Nanosecond
	err := s.Close()
	closeFlushTimeout = prev
	require.NoError(t, err, "a flush out of time is not a failed Close")

	s2 := pendOpen(t, path)
	n, err := s2.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 20, n)
	d, err := s2.Get(ctx, "c", "k7")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":7}`, string(d.Data))
}
