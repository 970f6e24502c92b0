package ports

import "context"

// PeerKeys remembers the identity key first seen for each peer node id
// (trust on first use): a later peer presenting the same node id with
// another key is refused, so a stranger cannot take over a known node's id.
type PeerKeys interface {
	// CheckPeerKey records key as nodeID's identity when none is known yet and refuses, with an
	// UNAUTHORIZED error, a key that differs from the one recorded.
	CheckPeerKey(ctx context.Context, nodeID string, key []byte) error
}
