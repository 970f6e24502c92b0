package app

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// WriteFailure is the last write the store refused for a reason of its own
// (a full or failing disk, a corrupt file), as WriteFailure reports it.
type WriteFailure struct {
	Err   error
	Since time.Time // the first failure of the current run of failures
}

// writeHealth remembers whether the store's last write failed on its own
// account, so the health check can report a disk that refuses writes while
// reads (ping, quick_check) still succeed. The next write the store accepts
// clears it. Writers record under the Database's write lock; the health
// check reads at any time, so the state is one atomic pointer.
type writeHealth struct {
	fail atomic.Pointer[WriteFailure]
}

// record notes the outcome of one store write. Only PERSISTENCE_ERROR and
// CORRUPTION count as the store's failure: a CONFLICT, NOT_FOUND or a bad
// argument is the caller's mistake, and a write cut off because the caller
// gave up (its context ended) says nothing about the disk. Those leave the
// state as it was: they did not show the disk working either.
func (w *writeHealth) record(ctx context.Context, err error) {
	if err == nil {
		if w.fail.Load() != nil {
			w.fail.Store(nil)
		}
		return
	}
	if !storeFault(ctx, err) {
		return
	}
	since := time.Now()
	if prev := w.fail.Load(); prev != nil {
		since = prev.Since
	}
	w.fail.Store(&WriteFailure{Err: err, Since: since})
}

func storeFault(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch domain.CodeOf(err) {
	case domain.CodePersistence, domain.CodeCorruption:
		return true
	}
	return false
}

// WriteFailure reports the last write the store refused on its own account
// (PERSISTENCE_ERROR or CORRUPTION: a full or failing disk), or nil when the
// last such write succeeded. The health check reads it (HealthOptions).
func (db *Database) WriteFailure() *WriteFailure { return db.writes.fail.Load() }
