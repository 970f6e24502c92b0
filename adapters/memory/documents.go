package memory

import (
	"bytes"
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// applyBatch bounds how many remote entries one staged transaction holds, as
// the SQLite adapter bounds its transactions.
const applyBatch = domain.DefaultSyncBatchSize

// tx stages writes over the store's state; commit publishes them. It is
// used with the write lock held.
type tx struct {
	s       *Store
	docs    map[docKey]domain.Document
	entries []domain.Entry
	byHash  map[string]int // index into entries
	ids     map[entryID]struct{}
	heads   map[string]string
	vclock  map[string]domain.Timestamp
	changed []domain.Document
}

func (s *Store) begin() *tx {
	return &tx{
		s:      s,
		docs:   map[docKey]domain.Document{},
		byHash: map[string]int{},
		ids:    map[entryID]struct{}{},
		heads:  map[string]string{},
		vclock: map[string]domain.Timestamp{},
	}
}

func (x *tx) doc(k docKey) (domain.Document, bool) {
	if d, ok := x.docs[k]; ok {
		return d, true
	}
	d, ok := x.s.docs[k.coll][k.key]
	return d, ok
}

func (x *tx) live(k docKey) (domain.Document, bool) {
	d, ok := x.doc(k)
	return d, ok && x.s.visible(&d)
}

func (x *tx) has(id entryID) bool {
	if _, ok := x.ids[id]; ok {
		return true
	}
	_, ok := x.s.ids[id]
	return ok
}

func (x *tx) head(author string) string {
	if h, ok := x.heads[author]; ok {
		return h
	}
	return x.s.heads[author]
}

func (x *tx) newest(author string) (domain.Timestamp, bool) {
	if ts, ok := x.vclock[author]; ok {
		return ts, true
	}
	ts, ok := x.s.vclock[author]
	return ts, ok
}

// linkOf is the link of the entry with hash, staged or held (nil:
// unknown).
func (x *tx) linkOf(hash string) []byte {
	if i, ok := x.byHash[hash]; ok {
		return x.entries[i].Link
	}
	if i, ok := x.s.byHash[hash]; ok {
		return x.s.log[i].Link
	}
	return nil
}

// add stages e (already sealed) in the oplog: Seq assigned, identity
// recorded, and the author's head and clock moved when e is its newest.
// Its link, proof (without LinkBefore) and legacy mark are kept as given.
func (x *tx) add(e domain.Entry) domain.Entry {
	e = cloneEntry(e)
	if e.Proof != nil {
		e.Proof.LinkBefore = nil
	}
	e.Seq = x.s.seq + int64(len(x.entries)) + 1
	x.byHash[e.Hash] = len(x.entries)
	x.entries = append(x.entries, e)
	x.ids[idOf(&e)] = struct{}{}
	author := e.Author()
	if newest, known := x.newest(author); !known || e.Stamp.After(newest) {
		x.vclock[author] = e.Stamp
		x.heads[author] = e.Hash
	}
	return e
}

// history is every entry held for k, staged ones included: the input of a
// replay.
func (x *tx) history(k docKey) []domain.Entry {
	idx := x.s.perKey[k]
	out := make([]domain.Entry, 0, len(idx)+1)
	for _, i := range idx {
		out = append(out, x.s.log[i])
	}
	for _, e := range x.entries {
		if e.Collection == k.coll && e.Key == k.key {
			out = append(out, e)
		}
	}
	return out
}

// resolve settles what the document of e becomes with r. extra entries
// (a snapshot's pseudo-entries, not in the oplog) join a replay.
func (x *tx) resolve(r domain.Resolver, e *domain.Entry, extra ...domain.Entry) {
	k := docKey{e.Collection, e.Key}
	cur, ok := x.doc(k)
	var curp *domain.Document
	if ok {
		curp = &cur
	}
	next, outcome := r.Resolve(curp, e)
	switch outcome {
	case domain.Unchanged:
		return
	case domain.NeedsReplay:
		d := domain.Replay(r, append(x.history(k), extra...))
		if d == nil || (ok && sameDoc(cur, *d)) {
			return
		}
		next = *d
	}
	next.Collection, next.Key = e.Collection, e.Key
	next.Data = bytes.Clone(next.Data)
	x.docs[k] = next
	x.changed = append(x.changed, cloneDoc(next))
}

func sameDoc(a, b domain.Document) bool {
	return a.Stamp == b.Stamp && a.Deleted == b.Deleted && a.ExpiresAt == b.ExpiresAt && bytes.Equal(a.Data, b.Data)
}

// commit publishes the staged state into the store.
func (x *tx) commit() {
	s := x.s
	for k, d := range x.docs {
		coll := s.docs[k.coll]
		if coll == nil {
			coll = map[string]domain.Document{}
			s.docs[k.coll] = coll
		}
		coll[k.key] = d
	}
	for _, e := range x.entries {
		i := len(s.log)
		s.log = append(s.log, e)
		s.ids[idOf(&e)] = struct{}{}
		s.byHash[e.Hash] = i
		k := docKey{e.Collection, e.Key}
		s.perKey[k] = append(s.perKey[k], i)
	}
	s.seq += int64(len(x.entries))
	for a, h := range x.heads {
		s.heads[a] = h
	}
	for a, ts := range x.vclock {
		s.vclock[a] = ts
	}
}

// Commit implements ports.DocumentStore: every write is checked, sealed and
// resolved in order (a write's conditions see the writes before it), and
// nothing is published unless all succeed.
func (s *Store) Commit(ctx context.Context, r domain.Resolver, writes ...ports.Write) ([]domain.Entry, error) {
	const op = "memory.Commit"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	x := s.begin()
	out := make([]domain.Entry, 0, len(writes))
	for _, w := range writes {
		e := w.Entry
		if e.Stamp.Node == "" {
			return nil, domain.Errorf(domain.CodeInvalidArgument, op, "entry %s/%s has no author", e.Collection, e.Key)
		}
		k := docKey{e.Collection, e.Key}
		cur, live := x.live(k)
		if v := w.IfVersion; v != nil {
			switch {
			case v.IsZero() && live:
				return nil, domain.Errorf(domain.CodeConflict, op, "document %s/%s already exists (version %s)", e.Collection, e.Key, cur.Stamp)
			case !v.IsZero() && !live:
				return nil, domain.Errorf(domain.CodeConflict, op, "document %s/%s does not exist; expected version %s", e.Collection, e.Key, *v)
			case !v.IsZero() && cur.Stamp != *v:
				return nil, domain.Errorf(domain.CodeConflict, op, "document %s/%s is at version %s, expected %s", e.Collection, e.Key, cur.Stamp, *v)
			}
		}
		if w.MustExist && !live {
			return nil, domain.Errorf(domain.CodeNotFound, op, "document %s/%s not found", e.Collection, e.Key)
		}
		e.Seq = 0
		e.Seal(x.head(e.Author()))
		// A local entry's link chains from its predecessor's; it carries
		// no proof and is never legacy.
		e.Link = domain.NextLink(domain.LinkBefore(e.PrevHash, x.linkOf(e.PrevHash)), domain.EntryDigest(&e))
		e.Proof, e.Legacy = nil, false
		e = x.add(e)
		x.resolve(r, &e)
		out = append(out, cloneEntry(e))
	}
	x.commit()
	return out, nil
}

// ApplyRemote implements ports.DocumentStore. Each bounded batch is
// published on its own; a cancelled context stops between batches.
func (s *Store) ApplyRemote(ctx context.Context, r domain.Resolver, entries []domain.Entry) (ports.ApplyResult, error) {
	const op = "memory.ApplyRemote"
	var res ports.ApplyResult
	start := 0
	for {
		end := min(start+applyBatch, len(entries))
		if err := s.applyBatch(ctx, op, r, entries[start:end], &res); err != nil {
			return res, err
		}
		if end == len(entries) {
			return res, nil
		}
		start = end
	}
}

func (s *Store) applyBatch(ctx context.Context, op string, r domain.Resolver, batch []domain.Entry, res *ports.ApplyResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	x := s.begin()
	for _, e := range batch {
		if x.has(idOf(&e)) {
			res.Skipped++
			continue
		}
		if _, inBatch := x.byHash[e.PrevHash]; !inBatch {
			s.keepPrevLink(&e)
		}
		e.Seq = 0
		e.PrevLink = nil
		e = x.add(e)
		x.resolve(r, &e)
		res.Applied = append(res.Applied, cloneEntry(e))
	}
	x.commit()
	res.Changed = append(res.Changed, x.changed...)
	return nil
}

// keepPrevLink keeps the link before e, as its proof gave it, when e
// follows its author's head and that head is not held (a chain that starts
// at a snapshot's heads): LinkOf then answers for it, so the run can be
// proven onward (as the SQLite store does, prevlink.go).
func (s *Store) keepPrevLink(e *domain.Entry) {
	if e.PrevLink == nil || e.PrevHash == "" {
		return
	}
	if s.heads[e.Author()] != e.PrevHash {
		return // only a run after the head: elsewhere its predecessor is held or it is not ours to vouch for
	}
	if _, held := s.byHash[e.PrevHash]; held {
		return
	}
	if s.boundaryLinks == nil {
		s.boundaryLinks = map[string][]byte{}
	}
	if _, ok := s.boundaryLinks[e.PrevHash]; !ok {
		s.boundaryLinks[e.PrevHash] = bytes.Clone(e.PrevLink)
	}
}

// Get implements ports.DocumentStore.
func (s *Store) Get(ctx context.Context, collection, key string) (domain.Document, error) {
	const op = "memory.Get"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return domain.Document{}, err
	}
	d, ok := s.docs[collection][key]
	if !ok || !s.visible(&d) {
		return domain.Document{}, domain.Errorf(domain.CodeNotFound, op, "document %s/%s not found", collection, key)
	}
	return cloneDoc(d), nil
}

// Find implements ports.DocumentStore with the domain's reference evaluator.
func (s *Store) Find(ctx context.Context, collection string, q domain.Query) ([]domain.Document, error) {
	const op = "memory.Find"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	docs, err := domain.ApplyQuery(q, s.collection(collection))
	if err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	for i := range docs {
		docs[i] = cloneDoc(docs[i])
	}
	return docs, nil
}

// Count implements ports.DocumentStore.
func (s *Store) Count(ctx context.Context, collection string, f domain.Filter) (int, error) {
	const op = "memory.Count"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	docs, err := domain.ApplyQuery(domain.Query{Filter: f}, s.collection(collection))
	if err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	return len(docs), nil
}

// collection returns the live documents of one collection (expired ones
// left out here, tombstones too). The Data slices are the store's: read only.
func (s *Store) collection(name string) []domain.Document {
	m := s.docs[name]
	out := make([]domain.Document, 0, len(m))
	for _, d := range m {
		if s.visible(&d) {
			out = append(out, d)
		}
	}
	return out
}

// Collections implements ports.DocumentStore.
func (s *Store) Collections(ctx context.Context) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.Collections"); err != nil {
		return nil, err
	}
	out := []string{}
	for name, m := range s.docs {
		for _, d := range m {
			if s.visible(&d) {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// EnsureIndex implements ports.DocumentStore. A scan of a map needs no
// index; the path is still validated so both adapters reject the same input.
func (s *Store) EnsureIndex(ctx context.Context, collection, path string) error {
	const op = "memory.EnsureIndex"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	return domain.Wrap(domain.CodeInvalidArgument, op, domain.ValidateIndexPath(path))
}
