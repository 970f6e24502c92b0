package ports

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// PullRequest is a v4 pull: entries strictly after Since.
type PullRequest struct {
	Since       domain.Timestamp
	Collections []string
}

// PeerSession is one open, handshaken connection to a peer, used by the sync
// engine. Requests strictly alternate with responses; a session is not safe
// for concurrent requests.
type PeerSession interface {
	// PeerID is the node id the peer announced in the handshake.
	PeerID() string
	// Legacy reports whether the peer was reached by the v5 handshake of
	// the C#/TypeScript family (Security.LegacyPeers): it sends no proofs
	// of authorship and reads none.
	Legacy() bool
	GetClock(ctx context.Context) (domain.Timestamp, error)
	PullChanges(ctx context.Context, req PullRequest) ([]domain.Entry, error)
	PushChanges(ctx context.Context, entries []domain.Entry) (snapshotRequired bool, err error)
	GetVectorClock(ctx context.Context) (domain.VectorClock, error)
	GetChainRange(ctx context.Context, startHash, endHash string) (entries []domain.Entry, snapshotRequired bool, err error)
	// GetSnapshot fetches the peer's whole state, for a bootstrap.
	GetSnapshot(ctx context.Context) (domain.Snapshot, error)
	Close() error
}

// PeerDialer opens sessions to peers by address.
type PeerDialer interface {
	Dial(ctx context.Context, address string) (PeerSession, error)
}

// PeerInfo describes the remote side of an inbound session.
type PeerInfo struct {
	NodeID     string
	Address    string
	Interests  []string
	AskedClock bool // the peer sent GetClock or GetVectorClock on this session
	// Legacy: the peer was admitted by the v5 handshake of the C#/TypeScript
	// family (Security.LegacyPeers), whose entries carry no proof of their
	// authors.
	Legacy bool
}

// SyncHandler answers peers' requests (implemented by app.SyncService and
// called by the TCP server for each request after the handshake).
type SyncHandler interface {
	GetClock(ctx context.Context, peer PeerInfo) (domain.Timestamp, error)
	PullChanges(ctx context.Context, peer PeerInfo, req PullRequest) ([]domain.Entry, error)
	PushChanges(ctx context.Context, peer PeerInfo, entries []domain.Entry) (snapshotRequired bool, err error)
	GetVectorClock(ctx context.Context, peer PeerInfo) (domain.VectorClock, error)
	GetChainRange(ctx context.Context, peer PeerInfo, startHash, endHash string) (entries []domain.Entry, snapshotRequired bool, err error)
	// GetSnapshot returns our whole state for a peer to bootstrap from; the
	// transport encodes and chunks it.
	GetSnapshot(ctx context.Context, peer PeerInfo) (domain.Snapshot, error)
}

// Discovery reports the peers currently known by broadcast or configuration.
type Discovery interface {
	Peers() []domain.Peer
}

// Executor runs an operation against a peer with the resilience policies
// (retry with backoff for transient errors, a per-peer circuit breaker, a
// timeout per attempt).
type Executor interface {
	Run(ctx context.Context, peer string, fn func(ctx context.Context) error) error
	// BreakerOpen reports whether the peer's circuit breaker is open.
	BreakerOpen(peer string) bool
}

// PhysicalClock returns wall-clock time in Unix milliseconds.
type PhysicalClock func() int64
