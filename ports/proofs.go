package ports

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// ProofStore keeps what proving entries to peers needs
// (domain/authorproof.go). Stores compute the links of local entries in
// Commit, keep the links and proofs remote entries carry (ApplyRemote),
// and return both with every entry they read.
type ProofStore interface {
	// LinkOf returns the content link of the entry with hash; nil when the
	// entry or its link is unknown.
	LinkOf(ctx context.Context, hash string) ([]byte, error)
	// ProofAfter returns the digests of author's entries strictly after
	// after, in chain order, up to and including the first that holds a
	// proof, and that proof; a nil proof (and no digests) when none does
	// or an entry on the way has no link.
	ProofAfter(ctx context.Context, author string, after domain.Timestamp) (tail [][]byte, proof *domain.AuthorProof, err error)
	// SetProof keeps proof (its LinkBefore is not kept) on the entry with
	// hash: a node signing its own entries as it serves them.
	SetProof(ctx context.Context, hash string, proof domain.AuthorProof) error
}

// PeerKeyReader tells whether a node's identity key is known: an author
// with a known key is a node of ours, whose entries are taken only with
// its proof.
type PeerKeyReader interface {
	PeerKey(ctx context.Context, nodeID string) (key []byte, ok bool, err error)
}
