package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/uptrace/bun"
)

type peerRow struct {
	bun.BaseModel `bun:"table:peers"`

	NodeID    string `bun:"node_id,pk"`
	Address   string `bun:"address"`
	Source    string `bun:"source"`
	Interests string `bun:"interests"`
	LastSeen  int64  `bun:"last_seen"`
}

// SavePeer inserts or replaces the peer.
func (s *Store) SavePeer(ctx context.Context, p domain.Peer) error {
	const op = "sqlite.SavePeer"
	if p.NodeID == "" {
		return domain.Errorf(domain.CodeInvalidArgument, op, "peer node id is empty")
	}
	interests := p.Interests
	if interests == nil {
		interests = []string{}
	}
	js, err := json.Marshal(interests)
	if err != nil {
		return domain.Wrap(domain.CodeInternal, op, err)
	}
	row := &peerRow{NodeID: p.NodeID, Address: p.Address, Source: string(p.Source), Interests: string(js), LastSeen: p.LastSeen}
	_, err = s.writer.NewInsert().Model(row).
		On("CONFLICT (node_id) DO UPDATE").
		Set("address = EXCLUDED.address, source = EXCLUDED.source, interests = EXCLUDED.interests, last_seen = EXCLUDED.last_seen").
		Exec(ctx)
	return mapErr(op, err)
}

// Peers lists the remembered peers by node id.
func (s *Store) Peers(ctx context.Context) ([]domain.Peer, error) {
	const op = "sqlite.Peers"
	var rows []peerRow
	if err := s.reader.NewSelect().Model(&rows).Order("node_id").Scan(ctx); err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]domain.Peer, len(rows))
	for i, r := range rows {
		out[i] = domain.Peer{NodeID: r.NodeID, Address: r.Address, Source: domain.PeerSource(r.Source), LastSeen: r.LastSeen}
		if err := json.Unmarshal([]byte(r.Interests), &out[i].Interests); err != nil {
			return nil, domain.Errorf(domain.CodePersistence, op, "peer %s: bad interests %q: %w", r.NodeID, r.Interests, err)
		}
		if len(out[i].Interests) == 0 {
			out[i].Interests = nil
		}
	}
	return out, nil
}

// RemovePeer forgets the peer (no error when unknown).
func (s *Store) RemovePeer(ctx context.Context, nodeID string) error {
	_, err := s.writer.NewDelete().Model((*peerRow)(nil)).Where("node_id = ?", nodeID).Exec(ctx)
	return mapErr("sqlite.RemovePeer", err)
}

// GetMeta reads a node-level fact.
func (s *Store) GetMeta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.reader.NewSelect().Table("meta").Column("value").Where("key = ?", key).Scan(ctx, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr("sqlite.GetMeta", err)
	}
	return v, true, nil
}

// SetMeta stores a node-level fact.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	_, err := s.writer.NewRaw(`INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value).Exec(ctx)
	return mapErr("sqlite.SetMeta", err)
}
