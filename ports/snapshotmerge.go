package ports

import (
	"context"
	"errors"
	"io"

	"github.com/entgldb/entgldb-go/domain"
)

// SnapshotFileMerger is a store that takes a Go peer's file snapshot while
// it holds data of its own: the file is verified exactly as an install into
// an empty store verifies it, then merged (optional, checked with a type
// assertion). In two steps, so the download and the checks run while
// writers go on, and only the merge holds them off.
type SnapshotFileMerger interface {
	// ReceiveSnapshotFile has fetch write the file into a private
	// temporary file beside the database and verifies it as
	// SnapshotFileInstaller.InstallSnapshotFile does. On error nothing is
	// kept; otherwise the caller merges and closes the result.
	ReceiveSnapshotFile(ctx context.Context, check SnapshotFileCheck, fetch func(w io.Writer) error) (VerifiedSnapshotFile, error)
}

// VerifiedSnapshotFile is a received file that passed every check.
type VerifiedSnapshotFile interface {
	// Size is the number of bytes received.
	Size() int64
	// Merge takes, in one transaction, each author's entries of the file
	// that are newer than the author's head in the store, with their links,
	// proofs and legacy marks (so the store can prove them onward), resolves
	// their documents with r as remote entries are, advances the heads and
	// vector clock only to those entries, and pins the author keys the
	// file's proofs presented for authors with none known. Applied lists
	// the entries taken, with their Seq.
	Merge(ctx context.Context, r domain.Resolver) (ApplyResult, error)
	// Close removes the temporary file.
	Close() error
}

// ErrUnprovenSnapshot: a Go peer offered only its JSON snapshot, which
// proves nothing of its documents' authors; a Go node never installs one
// (only a family peer's, under the legacy opt-in).
var ErrUnprovenSnapshot = errors.New("a Go peer's JSON snapshot proves none of its authors and is never installed; the peer must serve its snapshot file")
