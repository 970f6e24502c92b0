// Package ports declares the interfaces the app layer needs from the outside
// world (driven ports). Each is small and named for what its consumer needs;
// optional capabilities are separate interfaces checked with a type assertion.
package ports

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// Write is one local change to commit.
type Write struct {
	// Entry is unsealed: the store links it into the author's hash chain.
	Entry domain.Entry
	// IfVersion, when non-nil, makes the write conditional: it fails with
	// CONFLICT unless the stored live document has exactly this version. A
	// zero Timestamp means "only if the key has no live document".
	IfVersion *domain.Timestamp
	// MustExist makes the write fail with NOT_FOUND when the key has no live
	// document (used by Delete).
	MustExist bool
}

// ApplyResult reports what ApplyRemote did.
type ApplyResult struct {
	// Applied are the entries newly stored (with Seq set), in apply order.
	Applied []domain.Entry
	// Changed are the documents whose visible state changed (tombstones
	// included), for cache invalidation and change events.
	Changed []domain.Document
	// Skipped counts entries already held (re-delivery is a no-op).
	Skipped int
}

// DocumentStore is where documents and the oplog live. Every method is
// atomic: a failure leaves nothing half-written.
type DocumentStore interface {
	// Commit seals and stores local writes in one transaction (all or
	// nothing): documents resolved with r, oplog entries appended, vector
	// clock advanced. It returns the sealed entries with Seq set.
	Commit(ctx context.Context, r domain.Resolver, writes ...Write) ([]domain.Entry, error)
	// ApplyRemote stores entries from peers in bounded transactions,
	// skipping those already held and resolving each against the local
	// document with r.
	ApplyRemote(ctx context.Context, r domain.Resolver, entries []domain.Entry) (ApplyResult, error)
	// Get returns the live document; NOT_FOUND when missing or deleted.
	Get(ctx context.Context, collection, key string) (domain.Document, error)
	// Find returns live documents matching q, ordered and paged.
	Find(ctx context.Context, collection string, q domain.Query) ([]domain.Document, error)
	// Count returns the number of live documents matching f.
	Count(ctx context.Context, collection string, f domain.Filter) (int, error)
	// Collections lists collections holding at least one live document, sorted.
	Collections(ctx context.Context) ([]string, error)
	// EnsureIndex creates (if missing) an index on the JSON path.
	EnsureIndex(ctx context.Context, collection, path string) error
}

// OplogReader serves the oplog to the sync side.
type OplogReader interface {
	// EntriesAfter returns entries strictly after since in HLC order, from
	// every author, filtered by collections when non-empty; at most
	// maxEntries and about maxBytes, but never splitting a group of entries
	// that share (wall, logical).
	EntriesAfter(ctx context.Context, since domain.Timestamp, collections []string, maxEntries, maxBytes int) ([]domain.Entry, error)
	// AuthorEntriesAfter returns one author's entries strictly after since,
	// in HLC order, at most limit.
	AuthorEntriesAfter(ctx context.Context, author string, since domain.Timestamp, limit int) ([]domain.Entry, error)
	// ChainRange returns one author's entries strictly after startHash up to
	// and including endHash. SNAPSHOT required is signalled by
	// ErrHistoryPruned when that part of the chain is gone.
	ChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, error)
	// EntriesSinceSeq returns entries with Seq > seq in Seq order (the change
	// feed), at most limit.
	EntriesSinceSeq(ctx context.Context, seq int64, limit int) ([]domain.Entry, error)
	// LastSeq is the greatest Seq ever given to an entry (0 for none), the
	// change feed's end; entries pruned since still count.
	LastSeq(ctx context.Context) (int64, error)
	// NewestStamp is the greatest stamp held: the greatest of the vector
	// clock's entries (the true maximum, not per-column maxima), so entries
	// since pruned, and heads a snapshot brought, still count.
	NewestStamp(ctx context.Context) (domain.Timestamp, error)
	// VectorClock maps every author to the newest stamp held from it.
	VectorClock(ctx context.Context) (domain.VectorClock, error)
	// Heads maps every author to the hash of its newest entry held.
	Heads(ctx context.Context) (map[string]string, error)
}

// ErrHistoryPruned is returned by ChainRange when the requested history was
// pruned: the peer must bootstrap from a snapshot.
var ErrHistoryPruned = &domain.Error{Code: domain.CodeSync, Msg: "history pruned; snapshot required"}

// Pruner drops oplog entries older than a horizon, keeping per-author
// boundary hashes so chains can still be verified after a snapshot.
type Pruner interface {
	Prune(ctx context.Context, beforeWall int64) (int, error)
}

// Snapshotter exports and imports whole-database snapshots for bootstrap.
type Snapshotter interface {
	Snapshot(ctx context.Context) (domain.Snapshot, error)
	// ApplySnapshot merges a peer's snapshot: documents resolved like remote
	// entries, heads and vector clock advanced.
	ApplySnapshot(ctx context.Context, r domain.Resolver, s domain.Snapshot) (ApplyResult, error)
}

// MetaStore keeps small node-level facts (node id, last clock).
type MetaStore interface {
	GetMeta(ctx context.Context, key string) (string, bool, error)
	SetMeta(ctx context.Context, key, value string) error
}

// BoundedCounter is an optional capability of a DocumentStore: a count
// that stops early, so a large collection's count costs what its bound
// does.
type BoundedCounter interface {
	// CountUpTo counts the live documents of collection matching f, at
	// most limit of them (limit ≤ 0: all).
	CountUpTo(ctx context.Context, collection string, f domain.Filter, limit int) (int, error)
}

// OplogCounter counts local changes for the offline queue.
type OplogCounter interface {
	// CountAuthorEntries counts author's entries stamped strictly after
	// since whose Seq is in (seqAfter, seqUpTo].
	CountAuthorEntries(ctx context.Context, author string, since domain.Timestamp, seqAfter, seqUpTo int64) (int, error)
	// LastSeq is OplogReader's.
	LastSeq(ctx context.Context) (int64, error)
}

// PeerStore remembers peers across restarts.
type PeerStore interface {
	SavePeer(ctx context.Context, p domain.Peer) error
	Peers(ctx context.Context) ([]domain.Peer, error)
	RemovePeer(ctx context.Context, nodeID string) error
}

// Pinger checks the store answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// IntegrityChecker runs quick_check (deep=false) or integrity_check
// (deep=true); problems come back as a CORRUPTION error listing them.
type IntegrityChecker interface {
	CheckIntegrity(ctx context.Context, deep bool) error
}

// Backupper makes a consistent online copy of the database at path.
type Backupper interface {
	Backup(ctx context.Context, path string) (int64, error)
}

// Store is everything a full node needs from its storage adapter.
type Store interface {
	DocumentStore
	OplogReader
	MetaStore
	OplogCounter
	PeerStore
	Pinger
	Close() error
}
