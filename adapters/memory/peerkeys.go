package memory

import (
	"bytes"
	"context"

	"github.com/entgldb/entgldb-go/ports"
)

var _ ports.PeerKeys = (*Store)(nil)

// CheckPeerKey records key as nodeID's identity key the first time the node
// id is seen and refuses (UNAUTHORIZED) any other key afterwards.
func (s *Store) CheckPeerKey(ctx context.Context, nodeID string, key []byte) error {
	const op = "memory.CheckPeerKey"
	if err := ports.CheckPeerKeyArgs(op, nodeID, key); err != nil {
		return err
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
	return ports.ComparePeerKey(op, nodeID, recorded, key)
}
