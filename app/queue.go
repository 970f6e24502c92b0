package app

import (
	"context"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// flushPage is how many queued operations a flush reads at once.
const flushPage = 100

// OfflineQueue holds local changes made while no peer was reachable, durably
// and in order, until a flush pushes them. It is bounded: a full queue
// refuses new operations with QUEUE_FULL and never drops queued ones (the
// oplog stays the source of truth, so a refused operation still reaches
// peers through anti-entropy). Safe for concurrent use.
type OfflineQueue struct {
	store   ports.QueueStore
	enabled bool
	maxSize int
	log     *zap.Logger
	flushMu sync.Mutex // one flush at a time: two would push operations twice
	refused atomic.Int64
	obs     Observer // nil: none
}

// QueueOptions configure an OfflineQueue.
type QueueOptions struct {
	// Enabled: Enqueue keeps operations (Sync.EnableOfflineQueue). A
	// disabled queue accepts nothing: Enqueue is a no-op returning nil, and
	// Flush still drains whatever an earlier, enabled run left behind.
	Enabled bool
	// MaxSize bounds the queue (Sync.MaxQueueSize; <= 0: unbounded).
	MaxSize int
	// Observer is told the queue's length after every change (nil: none).
	Observer Observer
}

// report tells the observer the queue's current length.
func (q *OfflineQueue) report(ctx context.Context) {
	if q.obs == nil {
		return
	}
	if n, err := q.store.QueueLen(ctx); err == nil {
		q.obs.OfflineQueueLength(n)
	}
}

// NewOfflineQueue returns a queue over store.
func NewOfflineQueue(store ports.QueueStore, opts QueueOptions, logger *zap.Logger) *OfflineQueue {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &OfflineQueue{store: store, enabled: opts.Enabled, maxSize: opts.MaxSize, obs: opts.Observer, log: logger}
}

// Enabled reports whether Enqueue keeps operations.
func (q *OfflineQueue) Enabled() bool { return q.enabled }

// MaxSize is the bound (<= 0: unbounded).
func (q *OfflineQueue) MaxSize() int { return q.maxSize }

// Enqueue appends op; QUEUE_FULL when the queue already holds MaxSize
// operations (then nothing changes). A no-op on a disabled queue.
func (q *OfflineQueue) Enqueue(ctx context.Context, op domain.PendingOperation) error {
	const name = "queue.Enqueue"
	if !q.enabled {
		return nil
	}
	if _, err := q.store.Enqueue(ctx, op, q.maxSize); err != nil {
		if domain.CodeOf(err) == domain.CodeQueueFull {
			q.refused.Add(1)
			q.log.Warn("offline queue full; the change will reach peers by anti-entropy",
				zap.Int("max_size", q.maxSize), zap.String("collection", op.Collection), zap.String("key", op.Key))
		}
		return domain.Wrap(domain.CodePersistence, name, err)
	}
	q.report(ctx)
	return nil
}

// Flush runs exec on every queued operation, oldest first. Operations exec
// accepts are removed; the ones it fails stay queued, in their order, for
// the next flush. It stops early when ctx ends or the store fails (err),
// reporting what it did so far.
func (q *OfflineQueue) Flush(ctx context.Context, exec func(ctx context.Context, op domain.PendingOperation) error) (successful, failed int, err error) {
	const name = "queue.Flush"
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	defer q.report(context.WithoutCancel(ctx))
	for {
		if err := ctx.Err(); err != nil {
			return successful, failed, domain.Wrap(domain.CodeTimeout, name, err)
		}
		// Failed operations stay at the head, in order: skip past them.
		ops, err := q.store.Peek(ctx, failed+flushPage)
		if err != nil {
			return successful, failed, domain.Wrap(domain.CodePersistence, name, err)
		}
		if len(ops) <= failed {
			return successful, failed, nil
		}
		ops = ops[failed:]
		var acked []int64
		for _, op := range ops {
			if ctx.Err() != nil {
				break
			}
			if err := exec(ctx, op); err != nil {
				failed++
				q.log.Debug("queued operation not flushed", zap.Int64("id", op.ID), zap.Error(err))
				continue
			}
			acked = append(acked, op.ID)
		}
		if len(acked) > 0 {
			// Record what was pushed even when ctx just ended: it is done.
			if err := q.store.Ack(context.WithoutCancel(ctx), acked...); err != nil {
				// Not removed: they will be pushed again, which peers treat
				// as re-delivery (a no-op).
				return successful, failed, domain.Wrap(domain.CodePersistence, name, err)
			}
			successful += len(acked)
		}
		if len(ops) < flushPage {
			if err := ctx.Err(); err != nil {
				return successful, failed, domain.Wrap(domain.CodeTimeout, name, err)
			}
			return successful, failed, nil
		}
	}
}

// Refused counts operations turned away because the queue was full (for
// the metrics: each one degrades to anti-entropy, it is not lost).
func (q *OfflineQueue) Refused() int64 { return q.refused.Load() }

// Len returns how many operations are queued.
func (q *OfflineQueue) Len(ctx context.Context) (int, error) {
	n, err := q.store.QueueLen(ctx)
	return n, domain.Wrap(domain.CodePersistence, "queue.Len", err)
}

// Clear drops every queued operation.
func (q *OfflineQueue) Clear(ctx context.Context) error {
	return domain.Wrap(domain.CodePersistence, "queue.Clear", q.store.ClearQueue(ctx))
}
