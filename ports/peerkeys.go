package ports

import (
	"bytes"
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// PeerKeys remembers the identity key first seen for each peer node id
// (trust on first use): a later peer presenting the same node id with
// another key is refused, so a stranger cannot take over a known node's id.
type PeerKeys interface {
	// CheckPeerKey records key as nodeID's identity when none is known yet and refuses, with an
	// UNAUTHORIZED error, a key that differs from the one recorded.
	CheckPeerKey(ctx context.Context, nodeID string, key []byte) error
}

// CheckPeerKeyArgs is the argument check every PeerKeys adapter makes.
func CheckPeerKeyArgs(op, nodeID string, key []byte) error {
	if nodeID == "" || len(key) == 0 {
		return domain.Errorf(domain.CodeInvalidArgument, op, "node id and key must not be empty")
	}
	return nil
}

// ComparePeerKey refuses key unless it is the one recorded for nodeID.
func ComparePeerKey(op, nodeID string, recorded, key []byte) error {
	if !bytes.Equal(recorded, key) {
		return domain.Errorf(domain.CodeUnauthorized, op, "node %q presented an identity key other than the one first seen for it", nodeID)
	}
	return nil
}
