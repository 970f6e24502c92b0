package ports

import (
	"errors"

	"github.com/entgldb/entgldb-go/domain"
)

// ErrEntriesRefused is wrapped by a SyncHandler's PushChanges error when it
// refused some of the pushed entries (and applied the others): the
// transport answers success=false, and leaves the reporting to the handler,
// which bounds it.
var ErrEntriesRefused = errors.New("entries refused")

// UnreadableEntriesError is a PeerSession's error when some entries of a
// peer's answer could not be read (unknown operation, invalid JSON); the
// entries that could be read come beside it. Resume is the stamp of the
// answer's last entry, read or not: a pull continues after it, so entries
// nobody can read never stall it.
type UnreadableEntriesError struct {
	Resume domain.Timestamp
	Err    error
}

func (e *UnreadableEntriesError) Error() string { return e.Err.Error() }

func (e *UnreadableEntriesError) Unwrap() error { return e.Err }
