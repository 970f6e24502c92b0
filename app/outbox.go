package app

import (
	"sync"

	"github.com/entgldb/entgldb-go/domain"
)

// DefaultOutboxLimit bounds the local entries waiting to be gossiped when
// NewOutbox is given no limit.
const DefaultOutboxLimit = 10_000

// Outbox carries local commits from the Database to the sync engine. The
// Database appends each commit's entries while it holds its write lock, so
// they arrive in commit order; appending never blocks the writer. The
// engine's gossip loop drains it.
//
// It is bounded: when commits arrive faster than they can be pushed, what
// waits is coalesced into one push, and beyond the bound the content is
// dropped and marked overflowed (the entries are safe in the oplog; the
// engine then runs an anti-entropy round, which pushes whatever peers lack).
// While closed (no engine running) appends are dropped: rounds carry those
// commits.
type Outbox struct {
	mu       sync.Mutex
	entries  []domain.Entry
	overflow bool
	open     bool
	limit    int
	ready    chan struct{} // capacity 1: "there is something to take"
}

// NewOutbox builds a closed outbox holding at most limit entries (<= 0:
// DefaultOutboxLimit). Give the same one to NewDatabase (DatabaseOptions)
// and to NewSyncEngine (SyncEngineDeps).
func NewOutbox(limit int) *Outbox {
	if limit <= 0 {
		limit = DefaultOutboxLimit
	}
	return &Outbox{limit: limit, ready: make(chan struct{}, 1)}
}

// append hands over committed entries; it returns at once.
func (o *Outbox) append(entries []domain.Entry) {
	if len(entries) == 0 {
		return
	}
	o.mu.Lock()
	if !o.open {
		o.mu.Unlock()
		return
	}
	if o.overflow || len(o.entries)+len(entries) > o.limit {
		o.entries, o.overflow = nil, true
	} else {
		o.entries = append(o.entries, entries...)
	}
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// readyC receives when there may be something to take.
func (o *Outbox) readyC() <-chan struct{} { return o.ready }

// take empties the outbox: the entries in commit order, and whether some
// were dropped since the last take.
func (o *Outbox) take() (entries []domain.Entry, overflow bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	entries, overflow = o.entries, o.overflow
	o.entries, o.overflow = nil, false
	return entries, overflow
}

// setOpen opens the outbox (the engine started) or closes it (stopped).
func (o *Outbox) setOpen(open bool) {
	o.mu.Lock()
	o.open = open
	o.mu.Unlock()
}
