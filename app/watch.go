package app

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// replayPage is how many oplog entries a catching-up subscriber reads at once.
const replayPage = 256

// feed fans change events out to subscribers.
type feed struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription is one reader of the change feed. Events arrive on C in
// commit order; C is closed when the subscription ends, and Err then says
// why. A subscriber that falls more than the watch buffer behind live
// writes is cut off with QUEUE_FULL (writers never wait for it); it resumes
// with Watch(ctx, lastSeqSeen), the last non-zero Seq it saw.
type Subscription struct {
	db     *Database
	out    chan domain.Change
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
	closed atomic.Bool   // Close was called: ending is not an error

	// Guarded by db.feed.mu.
	live       chan domain.Change // filled by publish, never blocks it
	replaying  bool               // still reading the oplog
	overflowed bool               // live overflowed while replaying: replay again
	// snapAt is -1, or the oplog's highest Seq when a snapshot's changes
	// were queued to live while this subscriber replayed: the replay stops
	// there, so those changes come out after the entries committed before
	// the snapshot and before those committed after it.
	snapAt int64
	err    error
}

// C delivers the change events. Do not modify an event's Data.
func (s *Subscription) C() <-chan domain.Change { return s.out }

// Err is why C was closed: nil after Close, the context's error when it
// ended, QUEUE_FULL when the subscriber fell too far behind, or a store
// error. It is meaningful once C is closed.
func (s *Subscription) Err() error {
	s.db.feed.mu.Lock()
	defer s.db.feed.mu.Unlock()
	return s.err
}

// Close ends the subscription and waits for its goroutine.
func (s *Subscription) Close() {
	s.closed.Store(true)
	s.cancel()
	<-s.done
}

// Watch subscribes to the change feed from Seq since (exclusive): it first
// replays the oplog entries after since, then follows live commits, local
// and remote. since < 0 skips the replay: only changes committed from now on.
// The subscription lives until Close, ctx ends, or the subscriber falls
// behind (see Subscription).
//
// Documents changed by a snapshot bootstrap (ApplySnapshot) have no oplog
// entry, so they arrive as changes with Seq 0, one per document (tombstones
// as deletes), to subscribers open when the snapshot is applied. Seq 0 is
// not a position: resume from the last non-zero Seq. Resuming replays only
// the oplog (entries with Seq > since, each once), never snapshot changes;
// a reader that missed a snapshot re-reads the documents.
func (db *Database) Watch(ctx context.Context, since int64) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, domain.Wrap(domain.CodeTimeout, "database.Watch", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{
		db:     db,
		out:    make(chan domain.Change),
		cancel: cancel,
		done:   make(chan struct{}),
		live:   make(chan domain.Change, db.watchBuf),
		snapAt: -1,
	}
	// Register before replaying: every commit is then either already in the
	// oplog when the replay reads it, or published to live (or both; the
	// overlap is dropped by Seq).
	db.feed.mu.Lock()
	s.replaying = since >= 0
	db.feed.subs[s] = struct{}{}
	db.feed.mu.Unlock()
	go s.run(ctx, since)
	return s, nil
}

func (s *Subscription) run(ctx context.Context, since int64) {
	defer close(s.done)
	defer close(s.out)
	err := s.follow(ctx, since)
	f := &s.db.feed
	f.mu.Lock()
	delete(f.subs, s)
	if s.err == nil && !s.closed.Load() {
		s.err = err // publish's QUEUE_FULL, if set, says more
	}
	f.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.db.log.Debug("change feed subscription ended", zap.Error(err))
	}
}

// follow replays then forwards live events; it returns why it stopped.
func (s *Subscription) follow(ctx context.Context, last int64) error {
	f := &s.db.feed
	if last >= 0 {
		for {
			var err error
			if last, err = s.replay(ctx, last); err != nil {
				return err
			}
			f.mu.Lock()
			if !s.overflowed {
				s.replaying = false
				f.mu.Unlock()
				break
			}
			if s.snapAt >= 0 {
				// Snapshot changes were dropped or are about to be: the
				// oplog cannot give them back.
				f.mu.Unlock()
				return domain.Errorf(domain.CodeQueueFull, "database.Watch",
					"change feed subscriber fell more than %d events behind while a snapshot was applied; resume from the last Seq seen", cap(s.live))
			}
			// Live events were dropped while we replayed: they are in the
			// oplog, so read it again rather than fail.
			s.overflowed = false
			for len(s.live) > 0 {
				<-s.live
			}
			f.mu.Unlock()
		}
	}
	for {
		select {
		case c, ok := <-s.live:
			if !ok {
				return nil // publish closed live after setting s.err
			}
			if c.Seq != 0 && c.Seq <= last {
				continue // replayed already
			}
			if err := s.send(ctx, c); err != nil {
				return err
			}
			if c.Seq != 0 {
				last = c.Seq
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Subscription) replay(ctx context.Context, last int64) (int64, error) {
	for {
		entries, err := s.db.store.EntriesSinceSeq(ctx, last, replayPage)
		if err != nil {
			return last, domain.Wrap(domain.CodePersistence, "database.Watch", err)
		}
		// Read after the page: entries read before a snapshot was published
		// are all at or below its snapAt.
		s.db.feed.mu.Lock()
		bound := s.snapAt
		s.db.feed.mu.Unlock()
		for i := range entries {
			if bound >= 0 && entries[i].Seq > bound {
				return last, nil // the snapshot's changes, queued in live, come first
			}
			// An expired document's versions are no longer served.
			if !s.db.expired(entries[i].ExpiresAt) {
				if err := s.send(ctx, s.db.change(&entries[i])); err != nil {
					return last, err
				}
			}
			last = entries[i].Seq
		}
		if len(entries) < replayPage {
			return last, nil
		}
	}
}

func (s *Subscription) send(ctx context.Context, c domain.Change) error {
	select {
	case s.out <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// publish hands committed entries to every subscriber without waiting for
// any: a subscriber whose buffer is full is cut off (or, while it is still
// replaying the oplog, told to replay again). Called under writeMu, so
// events go out in Seq order.
func (db *Database) publish(entries []domain.Entry) {
	if len(entries) == 0 {
		return
	}
	f := &db.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) == 0 {
		return
	}
	for i := range entries {
		if !db.expired(entries[i].ExpiresAt) { // a peer's entry may arrive expired
			f.fanOut(db.change(&entries[i]), 0)
		}
	}
}

// publishSnapshot hands subscribers one change per document a snapshot
// changed. Those documents are not in the oplog, so the changes carry Seq 0
// rather than a Seq of their own: giving them the current highest Seq would
// repeat an existing one and break the SSE ids' strict increase, and any
// new Seq would not be in the oplog for a resumer. Called under writeMu.
func (db *Database) publishSnapshot(ctx context.Context, docs []domain.Document) {
	f := &db.feed
	f.mu.Lock()
	idle := len(f.subs) == 0
	f.mu.Unlock()
	if len(docs) == 0 || idle {
		return // whoever subscribes from now on does so after the snapshot
	}
	// A replaying subscriber needs the oplog's end (see snapAt). Not read
	// under f.mu: every subscriber would wait on the store read.
	top, err := db.store.LastSeq(context.WithoutCancel(ctx))
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		err = domain.Wrap(domain.CodePersistence, "database.Watch", err)
		db.log.Warn("change feed: oplog end unknown; subscribers still replaying are cut off", zap.Error(err))
		for s := range f.subs {
			if s.replaying {
				f.cutOff(s, err)
			}
		}
	}
	for i := range docs {
		f.fanOut(db.snapshotChange(&docs[i]), top)
	}
}

// fanOut queues c for every subscriber without waiting; top is, for a
// snapshot change (Seq 0), the oplog's highest Seq. Called under f.mu.
func (f *feed) fanOut(c domain.Change, top int64) {
	for s := range f.subs {
		if c.Seq == 0 && s.replaying && s.snapAt < 0 {
			s.snapAt = top
		}
		select {
		case s.live <- c:
			continue
		default:
		}
		if s.replaying {
			s.overflowed = true
			continue
		}
		f.cutOff(s, domain.Errorf(domain.CodeQueueFull, "database.Watch",
			"change feed subscriber fell more than %d events behind; resume from the last Seq seen", cap(s.live)))
	}
}

// cutOff ends s with err. Called under f.mu.
func (f *feed) cutOff(s *Subscription, err error) {
	s.err = err
	close(s.live)
	delete(f.subs, s)
}

func (db *Database) snapshotChange(d *domain.Document) domain.Change {
	c := domain.Change{
		Collection: d.Collection,
		Key:        d.Key,
		Op:         domain.OpPut,
		Data:       d.Data,
		Stamp:      d.Stamp,
		Remote:     d.Stamp.Node != db.clock.Node(),
	}
	if d.Deleted {
		c.Op, c.Data = domain.OpDelete, nil
	}
	return c
}

func (db *Database) change(e *domain.Entry) domain.Change {
	return domain.Change{
		Seq:        e.Seq,
		Collection: e.Collection,
		Key:        e.Key,
		Op:         e.Op,
		Data:       e.Data,
		Stamp:      e.Stamp,
		Remote:     e.Stamp.Node != db.clock.Node(),
	}
}

// Close ends every change feed subscription and waits for them. The store
// is not closed: its owner does that.
func (db *Database) Close() {
	db.feed.mu.Lock()
	subs := make([]*Subscription, 0, len(db.feed.subs))
	for s := range db.feed.subs {
		subs = append(subs, s)
	}
	db.feed.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
}

// publishInstalled hands subscribers the entries a snapshot file installed
// into the empty store (Seq up to last): they reached the oplog without
// passing through Commit or ApplyRemote, and an entry a peer pushes later
// is already held, so without this a subscriber would never see those
// documents arrive. Writes committed since were published by their commit.
func (db *Database) publishInstalled(ctx context.Context, last int64) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	f := &db.feed
	f.mu.Lock()
	idle := len(f.subs) == 0
	f.mu.Unlock()
	if idle {
		return nil // whoever subscribes from now on replays the oplog
	}
	var after int64
	for after < last {
		entries, err := db.store.EntriesSinceSeq(ctx, after, replayPage)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "database.publishInstalled", err)
		}
		if i := slices.IndexFunc(entries, func(e domain.Entry) bool { return e.Seq > last }); i >= 0 {
			entries = entries[:i]
		}
		if len(entries) == 0 {
			return nil
		}
		db.publish(entries)
		after = entries[len(entries)-1].Seq
	}
	return nil
}
