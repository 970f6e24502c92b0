package app

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Backup kinds: the automatic ones in Dir, the ones asked for in its
// ManualBackupDir.
const (
	BackupKindAuto   = "auto"
	BackupKindManual = "manual"
)

// kindDir is the directory of a kind of backup; "" for an unknown kind.
func (b *BackupService) kindDir(kind string) string {
	switch kind {
	case BackupKindAuto:
		return b.opts.Dir
	case BackupKindManual:
		return filepath.Join(b.opts.Dir, ManualBackupDir)
	}
	return ""
}

// List returns the backup files on disk, newest first.
func (b *BackupService) List() ([]ports.BackupInfo, error) {
	const op = "backup.List"
	var out []ports.BackupInfo
	for _, kind := range []string{BackupKindAuto, BackupKindManual} {
		entries, err := os.ReadDir(b.kindDir(kind))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, domain.Wrap(domain.CodePersistence, op, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // rotated away meanwhile
			}
			out = append(out, ports.BackupInfo{Kind: kind, Name: e.Name(), Bytes: fi.Size(), Modified: fi.ModTime().UnixMilli()})
		}
	}
	slices.SortFunc(out, func(x, y ports.BackupInfo) int { return cmp.Compare(y.Modified, x.Modified) })
	return out, nil
}

// Open opens one backup file of List for reading. The name must be a bare
// file name: no path leads out of the backup directories.
func (b *BackupService) Open(kind, name string) (*os.File, error) {
	const op = "backup.Open"
	dir := b.kindDir(kind)
	if dir == "" {
		return nil, domain.Errorf(domain.CodeInvalidArgument, op, "backup kind %q is neither %s nor %s", kind, BackupKindAuto, BackupKindManual)
	}
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return nil, domain.Errorf(domain.CodeInvalidArgument, op, "%q is not a backup file name", name)
	}
	f, err := os.Open(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, domain.Errorf(domain.CodeNotFound, op, "no %s backup named %q", kind, name)
	}
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, op, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, domain.Errorf(domain.CodeNotFound, op, "no %s backup named %q", kind, name)
	}
	return f, nil
}
