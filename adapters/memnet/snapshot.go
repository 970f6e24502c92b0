package memnet

import (
	"context"
	"maps"

	"github.com/entgldb/entgldb-go/domain"
)

// GetSnapshot asks the host for its snapshot, copied so that, as over a wire,
// it shares no memory with the host's store.
func (s *Session) GetSnapshot(ctx context.Context) (domain.Snapshot, error) {
	const op = "memnet.GetSnapshot"
	peer, err := s.begin(ctx, op, reqSnapshot)
	if err != nil {
		return domain.Snapshot{}, err
	}
	defer s.host.leave()
	sn, err := s.host.handler.GetSnapshot(ctx, peer)
	if err := s.end(ctx, op, err); err != nil {
		return domain.Snapshot{}, err
	}
	out := domain.Snapshot{Documents: make([]domain.Document, len(sn.Documents)),
		Heads: maps.Clone(sn.Heads), VectorClock: maps.Clone(sn.VectorClock)}
	for i, d := range sn.Documents {
		d.Data = append([]byte(nil), d.Data...)
		out.Documents[i] = d
	}
	return out, nil
}
