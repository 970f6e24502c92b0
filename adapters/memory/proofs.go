package memory

import (
	"bytes"
	"context"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var (
	_ ports.ProofStore    = (*Store)(nil)
	_ ports.PeerKeyReader = (*Store)(nil)
)

// LinkOf implements ports.ProofStore, for held and compacted entries.
func (s *Store) LinkOf(ctx context.Context, hash string) ([]byte, error) {
	const op = "memory.LinkOf"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if hash == "" {
		return nil, nil
	}
	if i, ok := s.byHash[hash]; ok {
		return bytes.Clone(s.log[i].Link), nil
	}
	// A compacted entry whose successor stays (compact.go).
	return bytes.Clone(s.boundaryLinks[hash]), nil
}

// ProofAfter implements ports.ProofStore. An entry on the way without a
// link, or whose link does not follow the one before it (across the
// bridge that entry keeps, if any: compactbridges.go), ends the search
// with no proof (the digests would not reach the signed link); so does a
// tail longer than a proof may carry.
func (s *Store) ProofAfter(ctx context.Context, author string, after domain.Timestamp) ([][]byte, *domain.AuthorProof, error) {
	const op = "memory.ProofAfter"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return nil, nil, err
	}
	var tail, bridge [][]byte
	var prevLink []byte
	for _, e := range s.authorChain(author) {
		if e.Stamp == after {
			// Where the tail starts: its link, and the bridge it keeps.
			prevLink, bridge = e.Link, s.bridges[e.Hash]
			continue
		}
		if !e.Stamp.After(after) {
			continue
		}
		d := domain.EntryDigest(&e)
		if e.Link == nil {
			return nil, nil, nil
		}
		if prevLink != nil && !bytes.Equal(domain.NextLink(prevLink, d), e.Link) {
			if bridge == nil || !bytes.Equal(domain.NextLink(domain.LinkAfter(prevLink, bridge), d), e.Link) {
				return nil, nil, nil
			}
			tail = append(tail, cloneDigests(bridge)...)
		}
		if tail = append(tail, d); len(tail) > domain.MaxProofTail {
			return nil, nil, nil
		}
		prevLink, bridge = e.Link, s.bridges[e.Hash]
		if e.Proof != nil {
			return tail, cloneProof(e.Proof), nil
		}
	}
	return nil, nil, nil
}

// SetProof implements ports.ProofStore; NOT_FOUND when no entry has hash.
func (s *Store) SetProof(ctx context.Context, hash string, proof domain.AuthorProof) error {
	const op = "memory.SetProof"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	i, ok := s.byHash[hash]
	if !ok || hash == "" {
		return domain.Errorf(domain.CodeNotFound, op, "no entry with hash %q", hash)
	}
	p := cloneProof(&proof)
	p.LinkBefore = nil
	s.log[i].Proof = p
	delete(s.bridges, hash) // the column a bridge shares, in the SQLite adapter
	return nil
}

// PeerKey implements ports.PeerKeyReader (peerkeys.go).
func (s *Store) PeerKey(ctx context.Context, nodeID string) ([]byte, bool, error) {
	const op = "memory.PeerKey"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return nil, false, err
	}
	key, ok := s.peerKeys[nodeID]
	return bytes.Clone(key), ok, nil
}
