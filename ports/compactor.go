package ports

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// CompactionResult is what one Compact pass removed.
type CompactionResult struct {
	// EntriesRemoved counts every oplog entry removed, tombstones included.
	EntriesRemoved int `json:"entries"`
	// TombstonesRemoved counts the deletes among them that were their
	// document's newest entry: the document's row stays as a marker.
	TombstonesRemoved int `json:"tombstones"`
	// BytesRemoved is about the size of the removed entries
	// (domain.Entry.Size), not what the file shrank: the space goes back
	// to the disk afterwards.
	BytesRemoved int64 `json:"bytes"`
}

// Compactor removes the oplog entries a maintenance pass may remove
// (domain.CompactionPolicy.Removable). The author's newest entry always
// stays; where a removed entry's successor stays, its content link is kept
// (LinkOf still answers for it) and ChainRange across the hole answers
// ErrHistoryPruned. The change feed never returns a removed entry, and
// Seq keeps increasing.
type Compactor interface {
	Compact(ctx context.Context, p domain.CompactionPolicy) (CompactionResult, error)
}

// StorageStats is what the store holds, for status and metrics.
type StorageStats struct {
	OplogEntries int64
	// Tombstones counts deleted documents' rows: tombstones still in the
	// oplog and the markers collected ones left.
	Tombstones int64
	// DiskBytes is the database's size on disk (main file and WAL); 0 in
	// memory.
	DiskBytes int64
}

// StorageReporter reports StorageStats.
type StorageReporter interface {
	StorageStats(ctx context.Context) (StorageStats, error)
}
