package app

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// overlapSession counts calls that overlap another one.
type overlapSession struct {
	inFlight, overlaps atomic.Int32
}

func (o *overlapSession) call() {
	if o.inFlight.Add(1) > 1 {
		o.overlaps.Add(1)
	}
	runtime.Gosched() // give another caller the chance to come in
	o.inFlight.Add(-1)
}

func (o *overlapSession) PeerID() string { o.call(); return "p" }
func (o *overlapSession) Legacy() bool   { o.call(); return false }
func (o *overlapSession) GetClock(context.Context) (domain.Timestamp, error) {
	o.call()
	return domain.Timestamp{}, nil
}
func (o *overlapSession) PullChanges(context.Context, ports.PullRequest) ([]domain.Entry, error) {
	o.call()
	return nil, nil
}
func (o *overlapSession) PushChanges(context.Context, []domain.Entry) (bool, error) {
	o.call()
	return false, nil
}
func (o *overlapSession) GetVectorClock(context.Context) (domain.VectorClock, error) {
	o.call()
	return nil, nil
}
func (o *overlapSession) GetChainRange(context.Context, string, string) ([]domain.Entry, bool, error) {
	o.call()
	return nil, false, nil
}
func (o *overlapSession) GetSnapshot(context.Context) (domain.Snapshot, error) {
	o.call()
	return domain.Snapshot{}, nil
}
func (o *overlapSession) Close() error { o.call(); return nil }

// Every method of a locked session goes through its lock: calls from many
// goroutines never overlap in the session underneath.
func TestLockedSessionSerializesEveryMethod(t *testing.T) {
	ctx := context.Background()
	inner := &overlapSession{}
	ls := lockSession(inner)
	calls := []func(){
		func() { ls.PeerID() },
		func() { _, _ = ls.GetClock(ctx) },
		func() { _, _ = ls.PullChanges(ctx, ports.PullRequest{}) },
		func() { _, _ = ls.PushChanges(ctx, nil) },
		func() { _, _ = ls.GetVectorClock(ctx) },
		func() { _, _, _ = ls.GetChainRange(ctx, "", "") },
		func() { _, _ = ls.GetSnapshot(ctx) },
		func() { _ = ls.Close() },
	}
	var wg sync.WaitGroup
	for _, call := range calls {
		for range 4 {
			wg.Go(func() {
				for range 500 {
					call()
				}
			})
		}
	}
	wg.Wait()
	require.Zero(t, inner.overlaps.Load())
}
