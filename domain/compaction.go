package domain

import "time"

// Retention defaults (Maintenance in the configuration).
const (
	// DefaultMaintenanceInterval is Maintenance.IntervalMinutes: time
	// between maintenance passes (the C# sibling's
	// MaintenanceIntervalMinutes default).
	DefaultMaintenanceInterval = 60 * time.Minute
	// DefaultOplogRetention is Maintenance.OplogRetentionHours: how long an
	// entry a known peer still lacks is kept for it (the C# sibling's
	// OplogRetentionHours default).
	DefaultOplogRetention = 24 * time.Hour
	// DefaultTombstoneRetention is Maintenance.TombstoneRetentionHours: how
	// long a delete stays in the oplog after every known peer holds it.
	// A week covers a device that is switched off over a long weekend and
	// still hears of the delete as an entry, not from a snapshot.
	DefaultTombstoneRetention = 7 * 24 * time.Hour
)

// CompactionPolicy says which oplog entries a maintenance pass may remove
// (Removable). A store applies it to each entry it holds.
type CompactionPolicy struct {
	// HeldByAll maps each author to the newest of its stamps every known
	// peer holds (HeldByAll); an author missing from it is held by no one.
	HeldByAll VectorClock
	// Now is the pass's wall clock, Unix milliseconds.
	Now int64
	// OplogRetention bounds how long a superseded entry is kept for a
	// known peer that still lacks it.
	OplogRetention time.Duration
	// TombstoneRetention is how long a delete that is the newest entry of
	// its document is kept once every known peer holds it.
	TombstoneRetention time.Duration
	// Self is the node's own id: the holes compaction makes in its own
	// chain need no bridge, since the node signs its own stretches when it
	// serves them (empty: every author's holes are bridged).
	Self string
}

// Removable reports whether a maintenance pass may remove e. authorHead:
// e is the newest entry its author has in the store (the chain continues
// from it, so it stays). superseded: the store holds a newer version of
// e's document (an entry or the document's own state, such as the marker
// a collected delete leaves). An entry is removable when:
//
//   - it is superseded and every known peer holds it, or it is older than
//     OplogRetention (a peer away that long bootstraps from a snapshot);
//   - it is a tombstone (a delete not superseded) that every known peer
//     holds and that is older than TombstoneRetention — never earlier,
//     whatever OplogRetention: a peer that lacks the delete would keep the
//     document alive. Such a peer stops holding a tombstone back once it
//     is forgotten (away longer than OplogRetention), so a tombstone goes
//     after at most max(TombstoneRetention, OplogRetention) past the
//     moment the last peer that will ever ask had it.
//
// The newest put of a document is its value: never removable, unless the
// document has expired (ExpiresAt), which is then collected like a delete
// once every known peer holds it and TombstoneRetention has passed since
// its expiry.
func (p CompactionPolicy) Removable(e *Entry, authorHead, superseded bool) bool {
	if authorHead {
		return false
	}
	held := false
	if h, ok := p.HeldByAll[e.Author()]; ok {
		held = !e.Stamp.After(h)
	}
	switch {
	case superseded:
		return held || olderThan(e, p.Now, p.OplogRetention)
	case e.Op == OpDelete:
		return held && olderThan(e, p.Now, p.TombstoneRetention)
	case e.ExpiresAt != 0:
		// An expired document is collected like a delete, its expiry
		// standing for the delete's stamp.
		return held && Expired(e.ExpiresAt, p.Now-p.TombstoneRetention.Milliseconds())
	}
	return false
}

// CollectsExpired reports whether removing the newest entry e of its
// document (Removable said so, e not superseded) collects an expired
// document: its row must then become the marker a collected delete leaves.
func CollectsExpired(e *Entry) bool { return e.Op == OpPut && e.ExpiresAt != 0 }

func olderThan(e *Entry, now int64, d time.Duration) bool {
	return e.Stamp.Wall < now-d.Milliseconds()
}

// HeldByAll is, per author, the newest stamp that every one of peers
// holds: the minimum over peers, missing (held by none) when some peer
// holds nothing of the author. With no known peer, everything own holds
// counts as held (a lone node has no one to keep history for).
func HeldByAll(own VectorClock, peers []VectorClock) VectorClock {
	out := own.Clone()
	for _, vc := range peers {
		for a, ts := range out {
			held, ok := vc[a]
			switch {
			case !ok:
				delete(out, a)
			case held.Before(ts):
				out[a] = held
			}
		}
	}
	return out
}

// ReplaysHistory reports whether r may need a document's whole history
// (NeedsReplay): its documents' entries must then never be compacted, or
// a late entry would be replayed over an incomplete history and change the
// document. Last-write-wins never replays.
func ReplaysHistory(r Resolver) bool {
	switch r.(type) {
	case LastWriteWins, *LastWriteWins:
		return false
	}
	return true
}
