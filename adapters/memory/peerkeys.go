package memory

import (
	"bytes"
	"context"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var _ ports.PeerKeys = (*Store)(nil)

// CheckPeerKey records key as nodeID's identity key the first time the node
// id is seen and refuses (UNAUTHORIZED) any other key afterwards.
func (s *Store) CheckPeerKey(ctx context.Context, nodeID string, key []byte) error {
	const op = "memory.CheckPeerKey"
	if nodeID == "" || len(key) == 0 {
		return domain.Errorf(domain.CodeInvalidArgument, op, "node id and key must not be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	recorded, ok := s.peerKeys[nodeID]
	if !ok {
		if s.peerKeys == nil {
			s.peerKeys = map[string][]byte{}
		}
		s.peerKeys[nodeID] = bytes.Clone(key)
		return nil
	}
	if !bytes.Equal(recorded, key) {
		return domain.Errorf(domain.CodeUnauthorized, op, "node %q presented an identity key other than the one first seen for it", nodeID)
	}
	return nil
}
