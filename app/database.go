// Package app holds the use cases of entgldb: local reads and writes
// (Database, Collection), the change feed, the offline queue, the status
// tracker and the health check. It is written only against domain/ and
// ports/ (plus zap and the standard library), so every adapter can be
// swapped underneath it.
package app

import (
	"bytes"
	"context"
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// DatabaseOptions tune a Database. Zero values take the defaults.
type DatabaseOptions struct {
	// MaxDocumentBytes bounds a document body (Persistence.MaxDocumentBytes);
	// <= 0 means domain.DefaultMaxDocumentBytes.
	MaxDocumentBytes int
	// Resolver settles conflicts (Sync.ConflictResolution); nil means
	// last-write-wins.
	Resolver domain.Resolver
	// WatchBuffer is how many change events a subscriber may fall behind
	// before its subscription fails with QUEUE_FULL; <= 0 means 1024.
	WatchBuffer int
	// Outbox receives every local commit, in commit order, for the sync
	// engine to push to peers (give the engine the same one); nil hands
	// commits to no one.
	Outbox *Outbox
	// Observer receives the database's counts (documents written and
	// applied, clock-drift rejections); nil: none.
	Observer Observer
	// Now is the wall clock document expiry is judged by (nil: time.Now);
	// give the store the same one.
	Now func() time.Time
}

// DefaultWatchBuffer is the per-subscriber buffer when none is configured.
const DefaultWatchBuffer = 1024

// Database is the local document database: validation, clock, store, cache,
// change feed and the hand-off to the sync side. Safe for concurrent use.
//
// Writes (local commits and remote applies) are serialized by one mutex.
// SQLite has a single writer anyway, and serializing here buys three
// guarantees: HLC stamps are issued in commit order (so with LWW a local
// write is always the visible version, and the cache can be updated without
// reading back), change events go out in the store's Seq order, and the
// outbox receives commits in order. Unconditional Puts that arrive while a
// commit holds the lock share the next transaction (groupcommit.go).
type Database struct {
	store    ports.Store
	cache    ports.DocumentCache
	clock    *domain.Clock
	log      *zap.Logger
	resolver domain.Resolver
	// lww: the resolver is last-write-wins, so a committed local entry is
	// exactly the new visible document.
	lww      bool
	maxDoc   int
	watchBuf int
	now      func() time.Time // judges expiry

	writeMu sync.Mutex
	outbox  *Outbox // appended to under writeMu; nil: no sync side
	// group gathers unconditional Puts that arrive while a commit is in
	// flight, for the next transaction (groupcommit.go).
	group groupCommit

	// Cache fill guard: a Get that missed reads the store and then fills
	// the cache only if no write touched the key's stripe meanwhile, so a
	// slow reader can never put back a version older than one a writer has
	// already acknowledged (even if the writer's entry was evicted since).
	seed    maphash.Seed
	stripes [fillStripes]fillStripe

	feed feed

	obs Observer

	writes writeHealth // the store's last write failure, for the health check
	// ephemeral is the identity key of a node built without one (an
	// embedder's tests): its engine and service sign with the same key.
	ephemeral ephemeralIdentity
}

const fillStripes = 256

type fillStripe struct {
	mu  sync.Mutex
	gen atomic.Uint64 // bumped under mu by every write to a key of the stripe
	_   [48]byte      // keep stripes on separate cache lines
}

// NewDatabase wires a Database. store and clock are required; a nil cache
// disables caching; a nil logger logs nothing. The clock is moved forward
// past every stamp the store holds (restoreClock), so it never issues a
// stamp older than one already stored.
func NewDatabase(store ports.Store, cache ports.DocumentCache, clock *domain.Clock, logger *zap.Logger, opts DatabaseOptions) (*Database, error) {
	const op = "app.NewDatabase"
	if store == nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "a store is required")
	}
	if clock == nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "a clock is required")
	}
	// Every entry this node writes carries its id: peers refuse one they
	// could not store, so refuse it once here rather than on every write.
	if err := domain.ValidateNodeID(clock.Node()); err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "the clock's node id: %w", err)
	}
	if cache == nil {
		cache = noCache{}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	if opts.Resolver == nil {
		opts.Resolver = domain.LastWriteWins{}
	}
	if opts.MaxDocumentBytes <= 0 {
		opts.MaxDocumentBytes = domain.DefaultMaxDocumentBytes
	}
	if opts.WatchBuffer <= 0 {
		opts.WatchBuffer = DefaultWatchBuffer
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := restoreClock(context.Background(), store, clock); err != nil {
		return nil, domain.Wrap(domain.CodePersistence, op, err)
	}
	// "lww" is the configuration name of last-write-wins, whatever its Go type.
	lww := opts.Resolver.Name() == domain.LastWriteWins{}.Name()
	db := &Database{
		store:    store,
		cache:    cache,
		clock:    clock,
		log:      logger,
		resolver: opts.Resolver,
		lww:      lww,
		maxDoc:   opts.MaxDocumentBytes,
		watchBuf: opts.WatchBuffer,
		now:      opts.Now,
		outbox:   opts.Outbox,
		seed:     maphash.MakeSeed(),
		obs:      orNop(opts.Observer),
	}
	db.feed.subs = make(map[*Subscription]struct{})
	return db, nil
}

// Clock returns the node's hybrid logical clock.
func (db *Database) Clock() *domain.Clock { return db.clock }

// entryLimits are the limits peers' entries are held to: those of our
// own writes.
func (db *Database) entryLimits() domain.EntryLimits {
	return domain.EntryLimits{MaxDocumentBytes: db.maxDoc}
}

// Store returns the underlying store (for the sync side's oplog reads).
func (db *Database) Store() ports.Store { return db.store }

// CacheStats returns the document cache's counters.
func (db *Database) CacheStats() ports.CacheStats { return db.cache.Stats() }

// Put writes body under key and returns its version. With ifVersion set the
// write is conditional: CONFLICT unless the stored live document has exactly
// that version (a zero Timestamp: unless the key has no live document).
func (db *Database) Put(ctx context.Context, collection, key string, body []byte, ifVersion *domain.Timestamp) (domain.Timestamp, error) {
	return db.put(ctx, "database.Put", collection, key, body, ifVersion, 0)
}

// put is Put with an expiry already checked (Unix ms, 0: never).
func (db *Database) put(ctx context.Context, op, collection, key string, body []byte, ifVersion *domain.Timestamp, expiresAt int64) (domain.Timestamp, error) {
	if err := domain.ValidateWrite(collection, key, domain.OpPut, body, db.maxDoc); err != nil {
		return domain.Timestamp{}, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	var cond *domain.Timestamp
	if ifVersion != nil {
		v := *ifVersion
		cond = &v
	}
	// The caller keeps its slice; the cache and the store must not share it.
	spec := writeSpec{collection: collection, key: key, op: domain.OpPut, data: bytes.Clone(body), ifVersion: cond, expiresAt: expiresAt}
	if cond == nil && db.lww {
		// Nothing to check against the stored document: this write can
		// share a transaction with others without one failing another.
		e, err := db.commitGrouped(ctx, op, spec)
		return e.Stamp, err
	}
	entries, err := db.commit(ctx, op, []writeSpec{spec})
	if err != nil {
		return domain.Timestamp{}, err
	}
	return entries[0].Stamp, nil
}

// Get returns the live document, from the cache when it holds it.
// NOT_FOUND when the key is missing or deleted.
func (db *Database) Get(ctx context.Context, collection, key string) (domain.Document, error) {
	const op = "database.Get"
	if err := validateKeyed(collection, key); err != nil {
		return domain.Document{}, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	if d, ok := db.cache.Get(collection, key); ok {
		if d.Deleted || db.expired(d.ExpiresAt) {
			return domain.Document{}, notFound(op, collection, key)
		}
		return cloneDoc(d), nil
	}
	stripe := db.stripe(collection, key)
	gen := stripe.gen.Load()
	d, err := db.store.Get(ctx, collection, key)
	if err != nil {
		return domain.Document{}, domain.Wrap(domain.CodePersistence, op, err)
	}
	stripe.mu.Lock()
	if stripe.gen.Load() == gen {
		db.cache.Set(cloneDoc(d))
	}
	stripe.mu.Unlock()
	return d, nil
}

// Delete removes key and returns the tombstone's version; NOT_FOUND when the
// key has no live document.
func (db *Database) Delete(ctx context.Context, collection, key string) (domain.Timestamp, error) {
	const op = "database.Delete"
	if err := validateKeyed(collection, key); err != nil {
		return domain.Timestamp{}, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	entries, err := db.commit(ctx, op, []writeSpec{{collection: collection, key: key, op: domain.OpDelete, mustExist: true}})
	if err != nil {
		return domain.Timestamp{}, err
	}
	return entries[0].Stamp, nil
}

// Batch is a set of writes to one collection committed together.
type Batch struct {
	Puts map[string][]byte
	// Deletes must name live documents (NOT_FOUND otherwise, and then
	// nothing of the batch is written).
	Deletes []string
	// ExpiresAt applies to every put of the batch (zero: they never
	// expire); it must be in the future.
	ExpiresAt time.Time
}

// Batch commits every put and delete of b in one transaction, all or
// nothing, and returns each key's new version. A key may appear once.
func (db *Database) Batch(ctx context.Context, collection string, b Batch) (map[string]domain.Timestamp, error) {
	const op = "database.Batch"
	if err := domain.ValidateCollection(collection); err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	exp, err := db.checkExpiry(op, b.ExpiresAt)
	if err != nil {
		return nil, err
	}
	specs := make([]writeSpec, 0, len(b.Puts)+len(b.Deletes))
	for _, key := range slices.Sorted(maps.Keys(b.Puts)) {
		body := b.Puts[key]
		if err := domain.ValidateWrite(collection, key, domain.OpPut, body, db.maxDoc); err != nil {
			return nil, domain.Errorf(domain.CodeOf(err), op, "put %q: %w", key, err)
		}
		specs = append(specs, writeSpec{collection: collection, key: key, op: domain.OpPut, data: bytes.Clone(body), expiresAt: exp})
	}
	seen := make(map[string]bool, len(b.Deletes))
	for _, key := range b.Deletes {
		if err := domain.ValidateKey(key); err != nil {
			return nil, domain.Errorf(domain.CodeOf(err), op, "delete %q: %w", key, err)
		}
		if _, put := b.Puts[key]; put || seen[key] {
			return nil, domain.Errorf(domain.CodeInvalidArgument, op, "key %q appears more than once in the batch", key)
		}
		seen[key] = true
		specs = append(specs, writeSpec{collection: collection, key: key, op: domain.OpDelete, mustExist: true})
	}
	if len(specs) == 0 {
		return map[string]domain.Timestamp{}, nil
	}
	entries, err := db.commit(ctx, op, specs)
	if err != nil {
		return nil, err
	}
	versions := make(map[string]domain.Timestamp, len(entries))
	for _, e := range entries {
		versions[e.Key] = e.Stamp
	}
	return versions, nil
}

// Find returns the live documents of collection matching q.
func (db *Database) Find(ctx context.Context, collection string, q domain.Query) ([]domain.Document, error) {
	const op = "database.Find"
	if err := domain.ValidateCollection(collection); err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	if q.Skip < 0 || q.Take < 0 {
		return nil, domain.Errorf(domain.CodeInvalidArgument, op, "skip and take must not be negative (got %d, %d)", q.Skip, q.Take)
	}
	docs, err := db.store.Find(ctx, collection, q)
	return docs, domain.Wrap(domain.CodePersistence, op, err)
}

// Count returns how many live documents of collection match f.
func (db *Database) Count(ctx context.Context, collection string, f domain.Filter) (int, error) {
	const op = "database.Count"
	if err := domain.ValidateCollection(collection); err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	n, err := db.store.Count(ctx, collection, f)
	return n, domain.Wrap(domain.CodePersistence, op, err)
}

// CountUpTo counts the live documents of collection matching f, at most
// limit of them (limit ≤ 0: all): the answer equals limit when limit or
// more match. A store that cannot stop early (ports.BoundedCounter) counts
// them all.
func (db *Database) CountUpTo(ctx context.Context, collection string, f domain.Filter, limit int) (int, error) {
	const op = "database.CountUpTo"
	bc, ok := db.store.(ports.BoundedCounter)
	if limit <= 0 || !ok {
		n, err := db.Count(ctx, collection, f)
		if limit > 0 {
			n = min(n, limit)
		}
		return n, err
	}
	if err := domain.ValidateCollection(collection); err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	n, err := bc.CountUpTo(ctx, collection, f, limit)
	return n, domain.Wrap(domain.CodePersistence, op, err)
}

// Collections lists the collections holding at least one live document.
func (db *Database) Collections(ctx context.Context) ([]string, error) {
	cs, err := db.store.Collections(ctx)
	return cs, domain.Wrap(domain.CodePersistence, "database.Collections", err)
}

// EnsureIndex creates an index on a JSON path of collection's documents.
func (db *Database) EnsureIndex(ctx context.Context, collection, path string) error {
	const op = "database.EnsureIndex"
	if err := domain.ValidateCollection(collection); err != nil {
		return domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	if path == "" {
		return domain.Errorf(domain.CodeInvalidArgument, op, "an index needs a JSON path")
	}
	return domain.Wrap(domain.CodePersistence, op, db.store.EnsureIndex(ctx, collection, path))
}

// ApplyRemote stores entries received from peers: each stamp is folded into
// the clock first (entries more than MaxClockDrift in the future are
// refused), then the store resolves and applies them, the cache learns the
// changed documents and change events go out. When some entries were refused
// for drift, the others are still applied and the error is CLOCK_DRIFT.
func (db *Database) ApplyRemote(ctx context.Context, entries []domain.Entry) (ports.ApplyResult, error) {
	const op = "database.ApplyRemote"
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	accepted := make([]domain.Entry, 0, len(entries))
	var driftErr error
	refused := 0
	for _, e := range entries {
		if _, err := db.clock.Update(e.Stamp); err != nil {
			refused++
			driftErr = err
			continue
		}
		accepted = append(accepted, e)
	}
	var res ports.ApplyResult
	if len(accepted) > 0 {
		var err error
		res, err = db.store.ApplyRemote(ctx, db.resolver, accepted)
		db.writes.record(ctx, err)
		if err != nil {
			// Applies run in bounded transactions: some may have landed.
			// Forget every key we sent so no reader is served a stale copy.
			for _, e := range accepted {
				db.updateCache(e.Collection, e.Key, nil)
			}
			db.publish(res.Applied)
			return res, domain.Wrap(domain.CodePersistence, op, err)
		}
	}
	// Remote changes invalidate rather than fill the cache: a bootstrap of
	// 100k documents must not evict what local readers use, nor hold 50 MB
	// of documents nobody asked for; the next read loads the winner.
	for i := range res.Changed {
		db.updateCache(res.Changed[i].Collection, res.Changed[i].Key, nil)
	}
	db.publish(res.Applied)
	db.obs.DocumentsApplied(len(res.Applied))
	for i := 0; i < refused; i++ {
		db.obs.ClockDriftRejected()
	}
	if refused > 0 {
		db.log.Warn("remote entries refused for clock drift", zap.Int("refused", refused), zap.Error(driftErr))
		return res, domain.Errorf(domain.CodeClockDrift, op, "%d of %d entries refused: %w", refused, len(entries), driftErr)
	}
	return res, nil
}

// ApplySnapshot merges a peer's snapshot through sn (the store's snapshot
// capability) under the write lock, like ApplyRemote: every stamp is folded
// into the clock first (documents, and authors' clocks, more than
// MaxClockDrift in the future are left out), the cache learns the changed
// documents and change events go out.
func (db *Database) ApplySnapshot(ctx context.Context, sn ports.Snapshotter, snap domain.Snapshot) (ports.ApplyResult, error) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	// Folded in under the lock, before any local write can follow: a local
	// write stamped older than a document just applied would lose to it in
	// the store while the cache kept the write.
	snap = db.foldSnapshotStamps(snap)
	res, err := sn.ApplySnapshot(ctx, db.resolver, snap)
	db.writes.record(ctx, err)
	if err != nil {
		for _, d := range snap.Documents {
			db.updateCache(d.Collection, d.Key, nil)
		}
		return res, err
	}
	// Remote changes invalidate rather than fill the cache: a bootstrap of
	// 100k documents must not evict what local readers use, nor hold 50 MB
	// of documents nobody asked for; the next read loads the winner.
	for i := range res.Changed {
		db.updateCache(res.Changed[i].Collection, res.Changed[i].Key, nil)
	}
	// Snapshot documents have no oplog entry (res.Applied is empty): the
	// feed gets one Seq 0 change per changed document instead.
	db.publishSnapshot(ctx, res.Changed)
	db.obs.DocumentsApplied(len(res.Applied))
	return res, nil
}

// foldSnapshotStamps updates the clock from the snapshot's document stamps
// and vector clock, leaving out what it refuses for drift (the caller's
// snapshot is not modified).
func (db *Database) foldSnapshotStamps(snap domain.Snapshot) domain.Snapshot {
	docs := make([]domain.Document, 0, len(snap.Documents))
	refused := 0
	var driftErr error
	for _, d := range snap.Documents {
		if _, err := db.clock.Update(d.Stamp); err != nil {
			refused++
			driftErr = err
			continue
		}
		docs = append(docs, d)
	}
	snap.Documents = docs
	vc := make(map[string]domain.Timestamp, len(snap.VectorClock))
	heads := make(map[string]string, len(snap.Heads))
	for author, ts := range snap.VectorClock {
		if _, err := db.clock.Update(ts); err != nil {
			refused++
			driftErr = err
			continue
		}
		vc[author] = ts
		if h, ok := snap.Heads[author]; ok {
			heads[author] = h
		}
	}
	snap.VectorClock, snap.Heads = vc, heads
	if refused > 0 {
		for range refused {
			db.obs.ClockDriftRejected()
		}
		db.log.Warn("snapshot parts refused for clock drift", zap.Int("refused", refused), zap.Error(driftErr))
	}
	return snap
}

type writeSpec struct {
	collection, key string
	op              domain.Op
	data            []byte
	ifVersion       *domain.Timestamp
	mustExist       bool
	expiresAt       int64 // Unix ms, 0: never
}

// commit stamps and commits specs in one store transaction, then updates the
// cache, publishes change events and hands the entries to the outbox.
func (db *Database) commit(ctx context.Context, op string, specs []writeSpec) ([]domain.Entry, error) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, domain.Wrap(domain.CodeTimeout, op, err)
	}
	entries, err := db.commitLocked(ctx, specs)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, op, err)
	}
	return entries, nil
}

// commitLocked is commit under writeMu, its error not yet wrapped: it
// stamps specs in order, commits them in one store transaction and, once
// they are committed, updates the cache, publishes change events and hands
// the entries to the outbox, entry by entry in stamp order.
func (db *Database) commitLocked(ctx context.Context, specs []writeSpec) ([]domain.Entry, error) {
	writes := make([]ports.Write, len(specs))
	for i, s := range specs {
		writes[i] = ports.Write{
			Entry: domain.Entry{
				Collection: s.collection,
				Key:        s.key,
				Op:         s.op,
				Data:       s.data,
				ExpiresAt:  s.expiresAt,
				Stamp:      db.clock.Now(),
			},
			IfVersion: s.ifVersion,
			MustExist: s.mustExist,
		}
	}
	entries, err := db.store.Commit(ctx, db.resolver, writes...)
	db.writes.record(ctx, err)
	if err != nil && domain.Planted(domain.BugAckBeforeCommit) {
		entries = make([]domain.Entry, len(writes))
		for i := range writes {
			entries[i] = writes[i].Entry
		}
		return entries, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range entries {
		e := &entries[i]
		if db.lww {
			d := domain.DocumentFromEntry(e)
			db.updateCache(e.Collection, e.Key, &d)
		} else {
			// Another resolver may merge: the visible document is not the
			// entry alone, so let the next read load it.
			db.updateCache(e.Collection, e.Key, nil)
		}
	}
	db.publish(entries)
	db.obs.DocumentsWritten(len(entries))
	if db.outbox != nil {
		db.outbox.append(entries)
	}
	return entries, nil
}

// updateCache records a write of (collection, key): it bumps the key's
// stripe so in-flight cache fills are dropped, then stores d (nil: drops the
// key).
func (db *Database) updateCache(collection, key string, d *domain.Document) {
	stripe := db.stripe(collection, key)
	stripe.mu.Lock()
	defer stripe.mu.Unlock()
	stripe.gen.Add(1)
	if d != nil {
		db.cache.Set(*d)
	} else {
		db.cache.Invalidate(collection, key)
	}
}

func (db *Database) stripe(collection, key string) *fillStripe {
	var h maphash.Hash
	h.SetSeed(db.seed)
	h.WriteString(collection)
	h.WriteByte(0)
	h.WriteString(key)
	return &db.stripes[h.Sum64()%fillStripes]
}

func validateKeyed(collection, key string) error {
	if err := domain.ValidateCollection(collection); err != nil {
		return err
	}
	return domain.ValidateKey(key)
}

func notFound(op, collection, key string) error {
	return domain.Errorf(domain.CodeNotFound, op, "document %s/%s not found", collection, key)
}

func cloneDoc(d domain.Document) domain.Document {
	d.Data = bytes.Clone(d.Data)
	return d
}

// noCache is the cache of a Database built without one.
type noCache struct{}

func (noCache) Get(string, string) (domain.Document, bool) { return domain.Document{}, false }
func (noCache) Set(domain.Document)                        {}
func (noCache) Invalidate(string, string)                  {}
func (noCache) Stats() ports.CacheStats                    { return ports.CacheStats{} }
