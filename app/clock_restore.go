package app

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// stampSource is what the clock is restored from: the oplog's newest entry
// and the vector clock of everything held.
type stampSource interface {
	NewestStamp(ctx context.Context) (domain.Timestamp, error)
	VectorClock(ctx context.Context) (domain.VectorClock, error)
}

// restoreClock moves clock past the newest stamp the store knows of, once,
// from the later of two sources: the oplog's newest entry (what this node
// issued or applied) and the vector clock's maximum, because after a
// snapshot bootstrap the newest stamps held are in the vector clock only (a
// snapshot adds nothing to the oplog).
func restoreClock(ctx context.Context, store stampSource, clock *domain.Clock) error {
	if domain.Planted(domain.BugClockNotRestored) {
		return nil
	}
	newest, err := store.NewestStamp(ctx)
	if err != nil {
		return err
	}
	vc, err := store.VectorClock(ctx)
	if err != nil {
		return err
	}
	if m := vc.Max(); newest.Before(m) {
		newest = m
	}
	clock.Restore(newest)
	return nil
}
