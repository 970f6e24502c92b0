package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"go.uber.org/zap"
)

// stampFormat makes file names that sort by time.
const stampFormat = "20060102T150405.000Z"

const backupPrefix, backupSuffix = "entgldb-", ".db"

func nowStamp() string { return time.Now().UTC().Format(stampFormat) }

// vacuumInto writes a consistent copy of db to path. VACUUM INTO reads one
// snapshot (writers continue meanwhile) but refuses an existing non-empty
// target, so it writes a temporary name that is synced and renamed over path.
func vacuumInto(ctx context.Context, db *sql.DB, path string) (int64, error) {
	const op = "sqlite.Backup"
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path + ".tmp-" + hex.EncodeToString(rnd[:])
	// VACUUM INTO fills an empty file, which keeps the mode it was made with.
	if err := createPrivate(tmp); err != nil {
		return 0, domain.Wrap(domain.CodePersistence, op, err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		_ = os.Remove(tmp)
		return 0, mapErr(op, err)
	}
	if err := syncFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return 0, domain.Wrap(domain.CodePersistence, op, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return 0, domain.Wrap(domain.CodePersistence, op, err)
	}
	_ = syncDir(filepath.Dir(path))
	fi, err := os.Stat(path)
	if err != nil {
		return 0, domain.Wrap(domain.CodePersistence, op, err)
	}
	return fi.Size(), nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Backup makes a consistent online copy of the database at path (0600) and
// returns its size in bytes.
func (s *Store) Backup(ctx context.Context, path string) (int64, error) {
	start := time.Now()
	// read: the copy holds every document, and needs no replay when opened.
	var n int64
	err := s.read(ctx, func() (err error) {
		if n, err = vacuumInto(ctx, s.reader.DB, path); err != nil {
			s.log.Error("backup failed", zap.String("path", path), zap.Error(err))
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("backup made", zap.String("path", path), zap.Int64("bytes", n), zap.Duration("took", time.Since(start)))
	return n, nil
}

// BackupFile copies the database file of a stopped node to out.
func BackupFile(ctx context.Context, dbPath, out string) (int64, error) {
	db, err := openFile(dbPath)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return vacuumInto(ctx, db, out)
}

// BackupNow writes a time-named backup into dir (created 0700 if missing)
// and keeps only the newest keep of them (keep <= 0: all). It returns the new file's path.
func (s *Store) BackupNow(ctx context.Context, dir string, keep int) (string, error) {
	const op = "sqlite.BackupNow"
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return "", domain.Wrap(domain.CodePersistence, op, err)
	}
	path := filepath.Join(dir, backupPrefix+nowStamp()+backupSuffix)
	for fileExists(path) {
		// Never replace a backup made in the same millisecond: the next
		// millisecond gives a new name that still sorts by time.
		time.Sleep(time.Millisecond)
		path = filepath.Join(dir, backupPrefix+nowStamp()+backupSuffix)
	}
	if _, err := s.Backup(ctx, path); err != nil {
		return "", err
	}
	if keep > 0 {
		names, err := backupNames(dir)
		if err != nil {
			return path, err
		}
		for _, name := range names[:max(len(names)-keep, 0)] {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				s.log.Warn("cannot remove old backup", zap.String("path", name), zap.Error(err))
			}
		}
	}
	return path, nil
}

// backupNames lists dir's backups, oldest first (the names sort by time).
func backupNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, "sqlite.backupNames", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, backupPrefix) && strings.HasSuffix(n, backupSuffix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// moveAside renames a database file and its WAL to path+suffix, and drops
// its shared-memory index. A WAL left behind would be replayed into the file
// that replaces it.
func moveAside(path, suffix string) (string, error) {
	dst := path + suffix
	if err := os.Rename(path, dst); err != nil {
		return "", err
	}
	if err := os.Rename(path+"-wal", dst+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return dst, err
	}
	if err := os.Remove(path + "-shm"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return dst, err
	}
	return dst, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp-restore"
	// A temporary file left by a crash would keep its mode through O_TRUNC.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, privateFile)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// Restore replaces a stopped node's database with a backup. The backup must
// pass integrity_check first; the replaced file is kept beside it as
// <db>.replaced-<time>.
func Restore(ctx context.Context, backupPath, dbPath string) error {
	const op = "sqlite.Restore"
	if err := CheckFile(ctx, backupPath, true); err != nil {
		return domain.Errorf(domain.CodeOf(err), op, "backup refused: %w", err)
	}
	if _, err := os.Stat(dbPath); err == nil {
		if _, err := moveAside(dbPath, ".replaced-"+nowStamp()); err != nil {
			return domain.Wrap(domain.CodePersistence, op, err)
		}
	}
	if err := copyFile(backupPath, dbPath); err != nil {
		return domain.Wrap(domain.CodePersistence, op, err)
	}
	return nil
}

// restoreNewestBackup sets a corrupt database aside and puts the newest
// backup in dir that passes integrity_check in its place.
func restoreNewestBackup(ctx context.Context, dbPath, dir string, log *zap.Logger) error {
	const op = "sqlite.AutoRestore"
	if dir == "" {
		return domain.Errorf(domain.CodeCorruption, op, "no backup directory configured")
	}
	names, err := backupNames(dir)
	if err != nil {
		return domain.Errorf(domain.CodeCorruption, op, "no backup to restore from: %w", err)
	}
	var good string
	for i := len(names) - 1; i >= 0 && good == ""; i-- {
		p := filepath.Join(dir, names[i])
		if err := CheckFile(ctx, p, true); err != nil {
			log.Warn("backup fails its check; trying an older one", zap.String("backup", p), zap.Error(err))
			continue
		}
		good = p
	}
	if good == "" {
		return domain.Errorf(domain.CodeCorruption, op, "no backup in %s passes integrity_check", dir)
	}
	aside, err := moveAside(dbPath, ".corrupt-"+nowStamp())
	if err != nil {
		return domain.Wrap(domain.CodePersistence, op, err)
	}
	if err := copyFile(good, dbPath); err != nil {
		return domain.Wrap(domain.CodePersistence, op, fmt.Errorf("restore %s: %w", good, err))
	}
	log.Error("database failed its check at open; restored from backup",
		zap.String("corrupt", aside), zap.String("backup", good), zap.String("database", dbPath))
	return nil
}
