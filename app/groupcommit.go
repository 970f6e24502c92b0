package app

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// maxGroupWrites bounds one group: writes queued beyond it wait for the
// next transaction, so a group's transaction, and with it the wait of every
// write in it, stays bounded however many writers queue.
const maxGroupWrites = 256

// groupCommit lets unconditional Puts that arrive while a commit is in
// flight share the next store transaction (group commit). The writer that
// finds no group under way leads one: it takes the write lock, takes the
// queued writes (its own first), commits them together and then hands the
// lead to the first write queued meanwhile, so no writer commits more than
// one group. After a shared commit the next leader first lingers briefly
// for the writers that shared it (linger). Every write learns its outcome
// only when its own group's transaction has ended: acknowledged once its
// data is committed, or given the error that failed the group.
//
// Only writes without a precondition are grouped: a precondition that fails
// would fail the whole transaction, and with it writes that had none.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*queuedWrite
	leading bool // a writer leads a group; queued writes wait for it
	// lastSize is how many writes the last group took, lastTook how long
	// its commit ran.
	lastSize atomic.Int32
	lastTook atomic.Int64 // ns
	// A lingering leader (see linger) waits for arrived to close, which the
	// write that makes the queue want long does.
	arrived chan struct{}
	want    int
}

// queuedWrite is one Put waiting in the group queue.
type queuedWrite struct {
	ctx   context.Context
	op    string
	spec  writeSpec
	entry domain.Entry // set when committed
	err   error        // set when not
	// wake tells a waiting write true: its group has ended, or false: it
	// leads the next group. nil for a write that leads at once.
	wake chan bool
}

// commitGrouped commits one unconditional write in the next group and
// returns its entry once that group's transaction has ended.
func (db *Database) commitGrouped(ctx context.Context, op string, spec writeSpec) (domain.Entry, error) {
	w := &queuedWrite{ctx: ctx, op: op, spec: spec}
	g := &db.group
	g.mu.Lock()
	if g.leading {
		w.wake = make(chan bool, 1)
		g.queue = append(g.queue, w)
		if g.arrived != nil && len(g.queue) >= g.want {
			close(g.arrived)
			g.arrived = nil
		}
		g.mu.Unlock()
		if done := <-w.wake; done {
			return w.entry, w.err
		}
	} else {
		// No group under way, so the queue is empty (a leader that leaves
		// writes queued hands the lead on): w will head the next group.
		g.leading = true
		g.queue = append(g.queue, w)
		g.mu.Unlock()
	}
	db.leadGroup(w)
	return w.entry, w.err
}

// leadGroup commits the group headed by self under the write lock, then
// passes the lead on and wakes the group's other writes.
func (db *Database) leadGroup(self *queuedWrite) {
	g := &db.group
	if last := int(g.lastSize.Load()); last > 1 {
		// Writers share commits: the ones just acknowledged are runnable
		// and often about to write again. Let them queue first, or this
		// group holds only its leader and theirs waits a whole commit.
		runtime.Gosched()
		db.linger(last, time.Duration(g.lastTook.Load()))
	}
	db.writeMu.Lock()
	g.mu.Lock()
	// Taken only now, with the lock held: the writes that queued while the
	// previous commit ran join this one.
	n := min(len(g.queue), maxGroupWrites)
	group := g.queue[:n:n]
	if n == len(g.queue) {
		g.queue = nil
	} else {
		g.queue = g.queue[n:]
	}
	g.mu.Unlock()
	g.lastSize.Store(int32(n))
	defer db.endGroup(self, group)
	start := time.Now()
	db.commitGroup(group)
	g.lastTook.Store(int64(time.Since(start)))
}

// maxLinger bounds a leader's wait for its group to fill.
const maxLinger = 2 * time.Millisecond

// linger lets a leader wait, at most as long as the last commit ran (and
// maxLinger), until want writes are queued: when writers shared the last
// commit they are likely to be back within one commit's time, and a write
// that arrives just after a commit began waits for all of it and then its
// own. Each write the wait adds to the group is a commit less. A lone
// writer never waits (its groups have one write).
func (db *Database) linger(want int, upTo time.Duration) {
	g := &db.group
	g.mu.Lock()
	if len(g.queue) >= want || upTo <= 0 {
		g.mu.Unlock()
		return
	}
	arrived := make(chan struct{})
	g.arrived, g.want = arrived, want
	g.mu.Unlock()
	t := time.NewTimer(min(upTo, maxLinger))
	select {
	case <-arrived:
	case <-t.C:
	}
	t.Stop()
	g.mu.Lock()
	if g.arrived == arrived {
		g.arrived = nil
	}
	g.mu.Unlock()
}

// commitGroup commits the writes of group whose callers still wait, in one
// transaction, and sets each write's outcome. Called under writeMu.
func (db *Database) commitGroup(group []*queuedWrite) {
	specs := make([]writeSpec, 0, len(group))
	members := make([]*queuedWrite, 0, len(group))
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.err = domain.Wrap(domain.CodeTimeout, w.op, err)
			continue
		}
		specs = append(specs, w.spec)
		members = append(members, w)
	}
	if len(members) == 0 {
		return
	}
	ctx := members[0].ctx
	if len(members) > 1 {
		// The transaction is every member's: one caller giving up must not
		// fail the others' writes.
		ctx = context.WithoutCancel(ctx)
	}
	entries, err := db.commitLocked(ctx, specs)
	for i, w := range members {
		if err != nil {
			w.err = domain.Wrap(domain.CodePersistence, w.op, err)
		} else {
			w.entry = entries[i]
		}
	}
}

// endGroup releases the write lock, hands the lead to the first queued
// write if there is one, and wakes the group's writes other than self. If
// the commit panicked, the writes it left without an outcome get an error
// (never a false acknowledgement) before the panic goes on.
func (db *Database) endGroup(self *queuedWrite, group []*queuedWrite) {
	p := recover()
	if p != nil {
		for _, w := range group {
			if w.err == nil && w.entry.Stamp.IsZero() {
				w.err = domain.Errorf(domain.CodeInternal, w.op, "the group commit failed: %v", p)
			}
		}
	}
	db.writeMu.Unlock()
	g := &db.group
	g.mu.Lock()
	var next *queuedWrite
	if len(g.queue) > 0 {
		next = g.queue[0]
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	if next != nil {
		next.wake <- false
	}
	for _, w := range group {
		if w != self {
			w.wake <- true
		}
	}
	if p != nil {
		panic(p)
	}
}
