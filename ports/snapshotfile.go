package ports

import (
	"context"
	"errors"
	"io"

	"github.com/entgldb/entgldb-go/domain"
)

// File snapshots: a new node bootstraps from a copy of a Go peer's database
// file instead of entry by entry. Each interface is optional and checked
// with a type assertion; without them the JSON snapshot and the entry path
// stay.

// SnapshotFileWriter is a store that can copy itself, consistently, to a
// file for a peer.
type SnapshotFileWriter interface {
	// WriteSnapshotFile writes a consistent copy of the store, stamped with
	// the cluster tag, to a new private file beside the database and
	// returns its path; the caller removes it. The copy carries own's
	// signature on the newest entry of each stretch of own's chain (the
	// store keeps no proofs of its node's entries), so a receiver can
	// prove every entry of the file.
	WriteSnapshotFile(ctx context.Context, cluster string, own SnapshotSigner) (string, error)
}

// SnapshotSigner is the serving node's identity, which signs its own chain
// in the snapshot files it serves.
type SnapshotSigner struct {
	Author    string // the node id of the store's own entries
	PublicKey []byte // its ed25519 identity key
	// Sign returns the signature of domain.HeadStatement(Author, link).
	Sign func(link []byte) []byte
}

// SnapshotFileCheck is what a received file must prove before it is
// installed.
type SnapshotFileCheck struct {
	// Cluster is the cluster tag the file must carry (the one the session
	// to its sender proved).
	Cluster string
	// CheckStamp, when set, refuses the file if a head of its vector clock
	// fails it (a stamp too far ahead, as entries' stamps are refused).
	CheckStamp func(domain.Timestamp) error
	// CheckEntry, when set, refuses the file if one of its oplog entries
	// fails it (the checks a peer's entry passes).
	CheckEntry func(*domain.Entry) error
	// Self and SelfKey are the receiver's node id and identity key: entries
	// in its name must be proven by that key.
	Self    string
	SelfKey []byte
	// AcceptLegacy: the receiver has a legacy opt-in, so entries the file
	// marks legacy may stand unproven (for authors with no known key).
	AcceptLegacy bool
}

// SnapshotFileResult reports an installed file snapshot.
type SnapshotFileResult struct {
	Documents int   // live documents and tombstones installed
	Entries   int   // oplog entries installed
	LastSeq   int64 // the greatest Seq installed
	Bytes     int64 // size of the received file
	// VectorClock is the store's clock after the install.
	VectorClock domain.VectorClock
}

// SnapshotFileInstaller is a store that installs a peer's database file
// into itself while it is empty.
type SnapshotFileInstaller interface {
	// InstallSnapshotFile has fetch write the file into a private temporary
	// file beside the database, verifies it (integrity, schema, cluster,
	// hash chains, content links, every entry and every author's head
	// proven by its author's key, each document row the version of a proven
	// entry) and installs its data at once, leaving out what belongs to the
	// sender's identity.
	// Nothing is installed unless everything verifies; the temporary file
	// is removed in every case. ErrStoreNotEmpty when the store holds data.
	InstallSnapshotFile(ctx context.Context, check SnapshotFileCheck, fetch func(w io.Writer) error) (SnapshotFileResult, error)
}

// ErrStoreNotEmpty: a file snapshot is only installed into an empty store.
var ErrStoreNotEmpty = errors.New("store is not empty; a file snapshot installs only into an empty one")

// SnapshotFileSession is a peer session that can download the peer's file
// snapshot (tcp.Session between Go nodes).
type SnapshotFileSession interface {
	// OffersSnapshotFile reports whether the peer offered file snapshots in
	// the handshake.
	OffersSnapshotFile() bool
	// SnapshotCluster is the cluster tag this session proved (its key):
	// the file must carry the same.
	SnapshotCluster() string
	// FetchSnapshotFile streams the peer's file snapshot into w, checking
	// its size and digest at the end.
	FetchSnapshotFile(ctx context.Context, w io.Writer) (int64, error)
}

// SnapshotFileServer answers a peer's request for a file snapshot (the
// SyncHandler of a node whose store is a SnapshotFileWriter).
type SnapshotFileServer interface {
	// ServesSnapshotFiles reports whether file snapshots can be served (the
	// capability is offered only then).
	ServesSnapshotFiles() bool
	// SnapshotFile writes a copy for peer, stamped with cluster, and
	// returns its path; the caller removes it.
	SnapshotFile(ctx context.Context, peer PeerInfo, cluster string) (string, error)
}
