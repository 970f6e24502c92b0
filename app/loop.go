package app

import (
	"context"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// loop owns the one goroutine of a background component (the periodic
// health check, the automatic backups): start launches run with a context
// of its own, stop cancels that context and waits for run to return.
type loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs run on a new goroutine; it does nothing while one is running.
func (l *loop) start(run func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	// Not the caller's ctx: that one bounds only the start.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.cancel, l.done = cancel, done
	go func() {
		defer close(done)
		run(ctx)
	}()
}

// stop cancels the goroutine and waits for it until ctx ends (then
// TIMEOUT_ERROR naming op). Stopping a stopped loop is a no-op.
func (l *loop) stop(ctx context.Context, op string) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return domain.Errorf(domain.CodeTimeout, op, "did not stop in time: %w", ctx.Err())
	}
}

// tickEvery calls fn every interval until ctx ends; it blocks.
func tickEvery(ctx context.Context, every time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
