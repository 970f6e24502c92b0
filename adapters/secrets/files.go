package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"

	"github.com/entgldb/entgldb-go/domain"
)

// WriteNew creates path holding data, 0600 (its directory 0700 when it has
// to be made): written to a temporary file, synced, then linked into place,
// so a crash leaves no half-written secret and an existing file is never
// replaced (the error then satisfies errors.Is(err, os.ErrExist)).
func WriteNew(path string, data []byte) error {
	return writePrivate(path, data, false)
}

// WriteReplace is WriteNew for a file that may exist: the new content is
// renamed over it (atomically), and the directory synced, so readers see
// the old file or the new one, never a mix, even after a crash.
func WriteReplace(path string, data []byte) error {
	return writePrivate(path, data, true)
}

func writePrivate(path string, data []byte, replace bool) error {
	const op = "secrets.write"
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return domain.Errorf(domain.CodePersistence, op, "creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return domain.Errorf(domain.CodePersistence, op, "creating a file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // after a link or rename, only the temporary name goes
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return domain.Errorf(domain.CodePersistence, op, "chmod: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return domain.Errorf(domain.CodePersistence, op, "writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return domain.Errorf(domain.CodePersistence, op, "syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return domain.Errorf(domain.CodePersistence, op, "closing %s: %w", tmp.Name(), err)
	}
	if !replace {
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return err
			}
			return domain.Errorf(domain.CodePersistence, op, "linking %s: %w", path, err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return domain.Errorf(domain.CodePersistence, op, "renaming into %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // the rename itself must survive a crash
		err = d.Sync()
		d.Close()
		if err != nil && runtime.GOOS != "windows" {
			return domain.Errorf(domain.CodePersistence, op, "syncing %s: %w", dir, err)
		}
	}
	return nil
}

// ReadPrivate returns the content of the private file at path without
// surrounding space: NOT_FOUND when there is none (naming what, which a
// node makes at its first start), CONFIG_ERROR when others may read it.
func ReadPrivate(path, what string) (string, error) {
	const op = "secrets.ReadPrivate"
	if err := CheckPrivate(path); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", domain.Errorf(domain.CodeNotFound, op, "no %s at %s (a node creates it at first start)", what, path)
		}
		return "", domain.Errorf(domain.CodePersistence, op, "reading %s: %w", path, err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// CheckPrivate refuses a secret file others can read, as ssh refuses such
// keys: a secret that leaked is no secret. A missing file is no error here
// (the reader reports it).
func CheckPrivate(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if st.Mode().Perm()&0o077 != 0 {
		return domain.Errorf(domain.CodeConfig, "secrets.CheckPrivate",
			"%s is readable by others (mode %04o); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	return nil
}
