package domain

import "sort"

// Outcome says what a Resolver decided for an incoming entry.
type Outcome int

const (
	// Unchanged: the incoming entry loses; the document stays as it is (the
	// entry is still recorded in the oplog).
	Unchanged Outcome = iota
	// Changed: the returned document is the new state.
	Changed
	// NeedsReplay: the result depends on history (an older entry arrived
	// after newer ones under an order-sensitive rule); the caller must call
	// Replay with every entry it holds for the key, the incoming one included.
	NeedsReplay
)

// Resolver settles what a document becomes when an entry is applied to it.
// Implementations must be deterministic and, together with Replay, make the
// final state depend only on the set of entries, never on arrival order.
type Resolver interface {
	// Name is the configuration name: "lww" or "merge".
	Name() string
	// Resolve applies incoming on top of current (nil when the key has no
	// document yet, including no tombstone).
	Resolve(current *Document, incoming *Entry) (Document, Outcome)
}

// Replay folds entries (all those held for one key, any order, duplicates
// allowed) in stamp order from an empty state and returns the final document,
// or nil when entries is empty.
func Replay(r Resolver, entries []Entry) *Document {
	if len(entries) == 0 {
		return nil
	}
	sorted := make([]Entry, len(entries))
	copy(sorted, entries)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Stamp.Before(sorted[j].Stamp) })
	var cur *Document
	for i := range sorted {
		if cur != nil && !sorted[i].Stamp.After(cur.Stamp) {
			continue // duplicate of the stamp already applied
		}
		doc, outcome := r.Resolve(cur, &sorted[i])
		if outcome == Changed {
			d := doc
			cur = &d
		}
	}
	return cur
}

// DocumentFromEntry is the state a single entry produces on its own.
func DocumentFromEntry(e *Entry) Document {
	d := Document{Collection: e.Collection, Key: e.Key, Stamp: e.Stamp, Deleted: e.Op == OpDelete}
	if e.Op == OpPut {
		d.Data = e.Data
		d.ExpiresAt = e.ExpiresAt
	}
	return d
}

// EntryFromDocument is the pseudo-entry that writes d (its put, or its
// delete without content): how a stored or snapshot document competes with
// entries. It is not sealed and goes into no oplog.
func EntryFromDocument(d *Document) Entry {
	e := Entry{Collection: d.Collection, Key: d.Key, Op: OpPut, Data: d.Data, Stamp: d.Stamp, ExpiresAt: d.ExpiresAt}
	if d.Deleted {
		e.Op, e.Data, e.ExpiresAt = OpDelete, nil, 0
	}
	return e
}

// LastWriteWins keeps whichever write has the greater full stamp; a delete is
// a tombstone that competes like any write. Equal stamps are the same write.
type LastWriteWins struct{}

// Name implements Resolver.
func (LastWriteWins) Name() string { return "lww" }

// Resolve implements Resolver.
func (LastWriteWins) Resolve(current *Document, incoming *Entry) (Document, Outcome) {
	if current != nil && !incoming.Stamp.After(current.Stamp) {
		return *current, Unchanged
	}
	if Planted(BugLWWTieBreak) && current != nil && incoming.Stamp.Wall == current.Stamp.Wall &&
		incoming.Stamp.Logical == current.Stamp.Logical {
		return *current, Unchanged
	}
	return DocumentFromEntry(incoming), Changed
}

// ResolverByName returns the resolver configured as "lww" or "merge".
func ResolverByName(name string) (Resolver, error) {
	switch name {
	case "", "lww":
		return LastWriteWins{}, nil
	case "merge":
		return RecursiveMerge{}, nil
	}
	return nil, Errorf(CodeConfig, "domain.ResolverByName", "unknown conflict resolution %q (want lww or merge)", name)
}
