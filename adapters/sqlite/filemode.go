package sqlite

import "os"

// A database holds every document, so the files and directories the store
// creates are its user's alone. SQLite gives the WAL and shared-memory index
// the main file's mode, so creating that file private covers them too.
const (
	privateFile os.FileMode = 0o600
	privateDir  os.FileMode = 0o700
)

// createPrivate creates an empty file at path readable by its owner only,
// for SQLite to fill: SQLite would create it with the umask's mode. An
// existing file is an error, so its owner's choice of mode is never changed.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, privateFile)
	if err != nil {
		return err
	}
	return f.Close()
}
