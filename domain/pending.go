package domain

// PendingOperation is a local change waiting in the offline queue for a peer
// to become reachable.
type PendingOperation struct {
	// ID is the queue position assigned by the store (increasing).
	ID         int64
	Op         Op
	Collection string
	Key        string
	Data       []byte
	Stamp      Timestamp
	// QueuedAt is Unix milliseconds.
	QueuedAt int64
}

// QueuePolicy is the bounded-queue rule the offline queue follows: a full
// queue refuses new operations with QUEUE_FULL and never drops queued ones;
// operations whose flush failed stay queued, in order.
type QueuePolicy struct {
	MaxSize int
}

// Admit returns QUEUE_FULL when a queue holding length operations cannot take
// one more. MaxSize <= 0 means unbounded.
func (p QueuePolicy) Admit(length int) error {
	if p.MaxSize > 0 && length >= p.MaxSize {
		return Errorf(CodeQueueFull, "queue.Enqueue", "offline queue is full (%d operations)", p.MaxSize)
	}
	return nil
}

// SplitFlush partitions ops after a flush attempt: those whose result was nil
// succeeded, the others stay queued in their original order.
func SplitFlush(ops []PendingOperation, results []error) (succeeded, failed []PendingOperation) {
	for i, op := range ops {
		if i < len(results) && results[i] == nil {
			succeeded = append(succeeded, op)
		} else {
			failed = append(failed, op)
		}
	}
	return succeeded, failed
}
