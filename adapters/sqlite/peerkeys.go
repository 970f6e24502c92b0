package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/entgldb/entgldb-go/ports"
)

var _ ports.PeerKeys = (*Store)(nil)

// CheckPeerKey records key as nodeID's identity key the first time the node
// id is seen and refuses (UNAUTHORIZED) any other key afterwards. The
// insert is a no-op when a key is already recorded, so two first
// connections racing record one key and the loser is compared against it.
func (s *Store) CheckPeerKey(ctx context.Context, nodeID string, key []byte) error {
	const op = "sqlite.CheckPeerKey"
	if err := ports.CheckPeerKeyArgs(op, nodeID, key); err != nil {
		return err
	}
	// Every handshake asks: answer a known peer from the readers, and take
	// the single writer connection only for a node id seen the first time.
	var recorded []byte
	switch err := s.reader.NewRaw(`SELECT public_key FROM peer_keys WHERE node_id = ?`, nodeID).Scan(ctx, &recorded); {
	case err == nil:
		return ports.ComparePeerKey(op, nodeID, recorded, key)
	case !errors.Is(err, sql.ErrNoRows):
		return mapErr(op, err)
	}
	if _, err := s.writer.NewRaw(`INSERT INTO peer_keys (node_id, public_key, first_seen) VALUES (?, ?, ?)
		ON CONFLICT (node_id) DO NOTHING`, nodeID, key, time.Now().UnixMilli()).Exec(ctx); err != nil {
		return mapErr(op, err)
	}
	if err := s.writer.NewRaw(`SELECT public_key FROM peer_keys WHERE node_id = ?`, nodeID).Scan(ctx, &recorded); err != nil {
		return mapErr(op, err)
	}
	return ports.ComparePeerKey(op, nodeID, recorded, key)
}
