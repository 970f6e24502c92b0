package sqlite

import (
	"bytes"
	"context"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var _ ports.PeerKeys = (*Store)(nil)

// CheckPeerKey records key as nodeID's identity key the first time the node
// id is seen and refuses (UNAUTHORIZED) any other key afterwards. The
// insert is a no-op when a key is already recorded, so two first
// connections racing record one key and the loser is compared against it.
func (s *Store) CheckPeerKey(ctx context.Context, nodeID string, key []byte) error {
	const op = "sqlite.CheckPeerKey"
	if nodeID == "" || len(key) == 0 {
		return domain.Errorf(domain.CodeInvalidArgument, op, "node id and key must not be empty")
	}
	if _, err := s.writer.NewRaw(`INSERT INTO peer_keys (node_id, public_key, first_seen) VALUES (?, ?, ?)
		ON CONFLICT (node_id) DO NOTHING`, nodeID, key, time.Now().UnixMilli()).Exec(ctx); err != nil {
		return mapErr(op, err)
	}
	var recorded []byte
	if err := s.writer.NewRaw(`SELECT public_key FROM peer_keys WHERE node_id = ?`, nodeID).Scan(ctx, &recorded); err != nil {
		return mapErr(op, err)
	}
	if !bytes.Equal(recorded, key) {
		return domain.Errorf(domain.CodeUnauthorized, op, "node %q presented an identity key other than the one first seen for it", nodeID)
	}
	return nil
}
