package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var lww = domain.LastWriteWins{}

const wall0 int64 = 1_700_000_000_000

func commitDoc(s *sqlite.Store, key string, i int) error {
	_, err := s.Commit(context.Background(), lww, ports.Write{Entry: domain.Entry{Collection: "docs", Key: key, Op: domain.OpPut,
		Data: fmt.Appendf(nil, `{"i":%d,"pad":%q}`, i, strings.Repeat("x", 400)), Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "A"}}})
	return err
}

func put(t *testing.T, s *sqlite.Store, key string, i int) {
	t.Helper()
	require.NoError(t, commitDoc(s, key, i))
}

// filledDB writes n documents into a new database file, closes it (which
// checkpoints the WAL into the file) and returns its path.
func filledDB(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	for i := range n {
		put(t, s, fmt.Sprintf("k%04d", i), i)
	}
	require.NoError(t, s.Close())
	_, err = os.Stat(path + "-wal")
	require.ErrorIs(t, err, os.ErrNotExist, "close checkpoints the WAL")
	return path
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(dst)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// overwrite writes b at off in the file.
func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// corruptPages flips bytes in the b-tree page headers of pages 2..6.
func corruptPages(t *testing.T, path string) {
	for page := int64(1); page <= 5; page++ {
		overwrite(t, path, page*4096, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
}

func requireCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, domain.CodeOf(err), "error: %v", err)
}

func TestCorruptFileIsRefused(t *testing.T) {
	good := filledDB(t, 200)
	require.NoError(t, sqlite.CheckFile(t.Context(), good, true))
	require.NoError(t, sqlite.CheckFile(t.Context(), good, false))

	cases := map[string]func(t *testing.T, path string){
		"header":    func(t *testing.T, path string) { overwrite(t, path, 0, []byte("this is not sqlite")) },
		"pages":     corruptPages,
		"truncated": func(t *testing.T, path string) { require.NoError(t, os.Truncate(path, 3*4096+100)) },
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "copy.db")
			copyTo(t, good, path)
			corrupt(t, path)
			for _, deep := range []bool{false, true} {
				err := sqlite.CheckFile(t.Context(), path, deep)
				requireCode(t, err, domain.CodeCorruption)
				require.ErrorIs(t, err, domain.ErrCorruption)
			}
			_, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
			requireCode(t, err, domain.CodeCorruption)
			require.Contains(t, err.Error(), path)
		})
	}
	t.Run("CheckIntegrityOfOpenStore", func(t *testing.T) {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: good})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.CheckIntegrity(t.Context(), false))
		require.NoError(t, s.CheckIntegrity(t.Context(), true))
	})
	t.Run("MissingFile", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.db")
		requireCode(t, sqlite.CheckFile(t.Context(), missing, true), domain.CodeNotFound)
		_, err := os.Stat(missing)
		require.ErrorIs(t, err, os.ErrNotExist, "a check never creates a database")
	})
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filledDB(t, 1)
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE meta SET value = ? WHERE key = 'schema_version'`, fmt.Sprint(sqlite.SchemaVersion+1))
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	_, err = sqlite.Open(t.Context(), sqlite.Options{Path: path})
	requireCode(t, err, domain.CodePersistence)
	require.Contains(t, err.Error(), "newer")

	// Untouched: the version is still the newer one.
	raw, err = sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer raw.Close()
	var v string
	require.NoError(t, raw.QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v))
	require.Equal(t, fmt.Sprint(sqlite.SchemaVersion+1), v)
}

func TestBackupDuringConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(dir, "live.db"), EnableWAL: true})
	require.NoError(t, err)
	defer s.Close()

	var committed atomic.Int64 // documents k0..committed-1 are committed
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if writeErr = commitDoc(s, fmt.Sprintf("k%06d", i), i); writeErr != nil {
				return
			}
			committed.Store(int64(i + 1))
		}
	})
	require.Eventually(t, func() bool { return committed.Load() >= 200 }, 10*time.Second, time.Millisecond)
	before := committed.Load()
	backup := filepath.Join(dir, "backup.db")
	n, err := s.Backup(t.Context(), backup)
	require.NoError(t, err)
	require.Positive(t, n)
	// A second backup to the same path replaces the first.
	_, err = s.Backup(t.Context(), backup)
	require.NoError(t, err)
	close(stop)
	wg.Wait()
	require.NoError(t, writeErr)
	require.Greater(t, committed.Load(), before, "writes continued while backing up")

	require.NoError(t, sqlite.CheckFile(t.Context(), backup, true))
	restored := filepath.Join(t.TempDir(), "restored.db")
	require.NoError(t, sqlite.Restore(t.Context(), backup, restored))
	r, err := sqlite.Open(t.Context(), sqlite.Options{Path: restored, EnableWAL: true})
	require.NoError(t, err)
	defer r.Close()
	for i := range before {
		_, err := r.Get(t.Context(), "docs", fmt.Sprintf("k%06d", i))
		require.NoError(t, err, "document %d committed before the backup", i)
	}
	// The copy is one consistent snapshot: documents and oplog agree.
	feed, err := r.EntriesSinceSeq(t.Context(), 0, 0)
	require.NoError(t, err)
	count, err := r.Count(t.Context(), "docs", nil)
	require.NoError(t, err)
	require.Equal(t, len(feed), count)
	require.Equal(t, -1, domain.VerifyChain("", feed))
}

func TestRestore(t *testing.T) {
	src := filledDB(t, 50)
	dir := t.TempDir()
	backup := filepath.Join(dir, "b.db")
	_, err := sqlite.BackupFile(t.Context(), src, backup)
	require.NoError(t, err)

	db := filepath.Join(dir, "node.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: db, EnableWAL: true})
	require.NoError(t, err)
	put(t, s, "only-here", 1)
	require.NoError(t, s.Close())

	// A corrupt backup is refused and the database is left alone.
	bad := filepath.Join(dir, "bad.db")
	copyTo(t, backup, bad)
	corruptPages(t, bad)
	requireCode(t, sqlite.Restore(t.Context(), bad, db), domain.CodeCorruption)
	requireCode(t, sqlite.Restore(t.Context(), filepath.Join(dir, "missing.db"), db), domain.CodeNotFound)

	require.NoError(t, sqlite.Restore(t.Context(), backup, db))
	replaced, err := filepath.Glob(db + ".replaced-*")
	require.NoError(t, err)
	require.Len(t, replaced, 1, "the replaced file is kept beside it")

	s, err = sqlite.Open(t.Context(), sqlite.Options{Path: db, EnableWAL: true})
	require.NoError(t, err)
	n, err := s.Count(t.Context(), "docs", nil)
	require.NoError(t, err)
	require.Equal(t, 50, n)
	_, err = s.Get(t.Context(), "docs", "only-here")
	requireCode(t, err, domain.CodeNotFound)
	require.NoError(t, s.Close())

	old, err := sqlite.Open(t.Context(), sqlite.Options{Path: replaced[0]})
	require.NoError(t, err)
	defer old.Close()
	_, err = old.Get(t.Context(), "docs", "only-here")
	require.NoError(t, err)
}

func TestAutoRestoreOnCorruption(t *testing.T) {
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	path := filepath.Join(dir, "node.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	require.False(t, s.RestoredFromBackup())
	for i := range 100 {
		put(t, s, fmt.Sprintf("k%03d", i), i)
	}
	older, err := s.BackupNow(t.Context(), backups, 5)
	require.NoError(t, err)
	put(t, s, "k100", 100)
	newest, err := s.BackupNow(t.Context(), backups, 5)
	require.NoError(t, err)
	require.Less(t, older, newest, "names sort by time")
	require.NoError(t, s.Close())
	corruptPages(t, newest) // the newest backup is bad too: the older one is used
	corruptPages(t, path)

	_, err = sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true, BackupDir: backups})
	requireCode(t, err, domain.CodeCorruption)

	core, logs := observer.New(zapcore.WarnLevel)
	s, err = sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true, Logger: zap.New(core),
		AutoRestoreOnCorruption: true, BackupDir: backups})
	require.NoError(t, err)
	defer s.Close()
	n, err := s.Count(t.Context(), "docs", nil)
	require.NoError(t, err)
	require.Equal(t, 100, n, "restored from the older, good backup")
	require.True(t, s.RestoredFromBackup())

	aside, err := filepath.Glob(path + ".corrupt-*")
	require.NoError(t, err)
	require.Len(t, aside, 1)
	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	require.Len(t, errs, 1)
	fields := errs[0].ContextMap()
	require.Equal(t, aside[0], fields["corrupt"])
	require.Equal(t, older, fields["backup"])

	t.Run("NoGoodBackup", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.db")
		copyTo(t, aside[0], p)
		_, err := sqlite.Open(t.Context(), sqlite.Options{Path: p, AutoRestoreOnCorruption: true, BackupDir: t.TempDir()})
		requireCode(t, err, domain.CodeCorruption)
		_, err = os.Stat(p)
		require.NoError(t, err, "the corrupt file stays where it was")
	})
}

func TestBusyBeyondTimeoutIsTimeoutError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true, BusyTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	// Another process's writer holds the lock.
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	require.NoError(t, err)
	defer other.Close()
	tx, err := other.Begin()
	require.NoError(t, err)
	defer tx.Rollback()

	_, err = s.Commit(t.Context(), lww, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut,
		Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: wall0, Node: "A"}}})
	requireCode(t, err, domain.CodeTimeout)
	require.NoError(t, tx.Rollback())
	_, err = s.Commit(t.Context(), lww, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut,
		Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: wall0, Node: "A"}}})
	require.NoError(t, err, "the failed commit left nothing behind")
}

func TestOpenCreatesParentDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "lib", "entgldb", "node.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, sqlite.CheckFile(t.Context(), path, true))
	_, err = sqlite.Open(t.Context(), sqlite.Options{})
	requireCode(t, err, domain.CodeConfig)
}

func TestCheckpointTruncatesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	defer s.Close()
	for i := range 20 {
		put(t, s, fmt.Sprintf("k%d", i), i)
	}
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	require.Positive(t, fi.Size())
	require.NoError(t, s.Checkpoint(t.Context()))
	fi, err = os.Stat(path + "-wal")
	require.NoError(t, err)
	require.Zero(t, fi.Size())
	// The main file alone now holds every commit.
	copyTo(t, path, path+".copy")
	c, err := sqlite.Open(t.Context(), sqlite.Options{Path: path + ".copy"})
	require.NoError(t, err)
	defer c.Close()
	n, err := c.Count(t.Context(), "docs", nil)
	require.NoError(t, err)
	require.Equal(t, 20, n)
}
