package app

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// OfflineQueue reports the local changes no peer has confirmed yet: what
// this disk alone holds, and what would be lost with it. It keeps nothing
// itself — the oplog holds every change, and anti-entropy pushes each peer
// what it lacks — so it never drops or refuses a write. Reaching MaxSize is
// a warning, logged once each time the length crosses it, never an error:
// a lone node is not failing. Safe for concurrent use.
type OfflineQueue struct {
	counter ports.OplogCounter
	clocks  *PeerClocks
	self    string
	enabled bool
	maxSize int
	log     *zap.Logger
	obs     Observer // nil: none

	mu sync.Mutex
	// What the last count saw: the confirmed stamp it counted after, the
	// oplog sequence it counted up to, and the result. While the
	// confirmation stays, only entries committed since are counted.
	countedAfter domain.Timestamp
	countedUpTo  int64
	counted      int
	over         bool // the length was at or above MaxSize at the last Check
}

// QueueOptions configure an OfflineQueue.
type QueueOptions struct {
	// Enabled: the queue is counted and reported (Sync.EnableOfflineQueue);
	// disabled, its length reads 0 and nothing is logged. Either way every
	// change is kept in the oplog and reaches peers.
	Enabled bool
	// MaxSize is the length past which a warning is logged (Sync.MaxQueueSize;
	// <= 0: never).
	MaxSize int
	// Observer is told the queue's length at every Check (nil: none).
	Observer Observer
}

// NewOfflineQueue returns the queue of node self's changes, counted in
// counter against what clocks say peers hold.
func NewOfflineQueue(counter ports.OplogCounter, clocks *PeerClocks, self string, opts QueueOptions, logger *zap.Logger) *OfflineQueue {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &OfflineQueue{counter: counter, clocks: clocks, self: self, enabled: opts.Enabled,
		maxSize: opts.MaxSize, obs: opts.Observer, log: logger}
}

// Enabled reports whether the queue is counted.
func (q *OfflineQueue) Enabled() bool { return q.enabled }

// MaxSize is the warning threshold (<= 0: none).
func (q *OfflineQueue) MaxSize() int { return q.maxSize }

// Len returns how many local changes no peer has confirmed yet.
func (q *OfflineQueue) Len(ctx context.Context) (int, error) {
	const op = "queue.Len"
	if !q.enabled {
		return 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	upTo, err := q.counter.LastSeq(ctx)
	if err != nil {
		return 0, domain.Wrap(domain.CodePersistence, op, err)
	}
	confirmed := q.clocks.Confirmed(q.self)
	from, base := q.countedUpTo, q.counted
	if confirmed != q.countedAfter || upTo < q.countedUpTo {
		from, base = 0, 0 // a peer confirmed more (or the oplog was replaced): count again
	}
	n, err := q.counter.CountAuthorEntries(ctx, q.self, confirmed, from, upTo)
	if err != nil {
		return 0, domain.Wrap(domain.CodePersistence, op, err)
	}
	q.countedAfter, q.countedUpTo, q.counted = confirmed, upTo, base+n
	return q.counted, nil
}

// Recount makes the next Len count from scratch: maintenance removed
// entries the running count included.
func (q *OfflineQueue) Recount() {
	q.mu.Lock()
	q.countedAfter, q.countedUpTo, q.counted = domain.Timestamp{}, 0, 0
	q.mu.Unlock()
}

// Check reports the length to the observer and warns when it crosses
// MaxSize upwards (once per crossing).
func (q *OfflineQueue) Check(ctx context.Context) {
	if !q.enabled {
		return
	}
	n, err := q.Len(ctx)
	if err != nil {
		if ctx.Err() == nil {
			q.log.Warn("could not count the changes no peer has confirmed", zap.Error(err))
		}
		return
	}
	if q.obs != nil {
		q.obs.OfflineQueueLength(n)
	}
	over := q.maxSize > 0 && n >= q.maxSize
	q.mu.Lock()
	crossed := over && !q.over
	q.over = over
	q.mu.Unlock()
	if crossed {
		q.log.Warn("local changes waiting for a peer reached Sync.MaxQueueSize; they are kept in the oplog and go to the first peer that comes",
			zap.Int("unconfirmed", n), zap.Int("max_queue_size", q.maxSize))
	}
}
