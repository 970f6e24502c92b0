package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var (
	_ ports.ProofStore    = (*Store)(nil)
	_ ports.PeerKeyReader = (*Store)(nil)
)

// oplogSeqByHash finds an entry by hash, newest first, like
// oplogHashLookup (no index by hash: the scan backwards stops early for
// the recent entries proofs are asked about).
const oplogSeqByHash = `SELECT seq FROM oplog WHERE hash = ?1 ORDER BY seq DESC LIMIT 1`

// LinkOf returns the content link of the entry with hash, held or
// compacted (nil: unknown).
func (s *Store) LinkOf(ctx context.Context, hash string) ([]byte, error) {
	const op = "sqlite.LinkOf"
	if hash == "" {
		return nil, nil
	}
	if e, ok := s.recent.lookup(hash); ok {
		return bytes.Clone(e.link), nil
	}
	// A hole's boundary (an entry compacted away, or the head a snapshot
	// started from) is never in the oplog: its small table is asked first,
	// before the oplog is scanned back by hash.
	link, found, err := s.boundaryLink(ctx, hash)
	if err != nil || found {
		return link, mapErr(op, err)
	}
	err = s.reader.DB.QueryRowContext(ctx, `SELECT link FROM oplog WHERE seq = (`+oplogSeqByHash+`)`, hashArg(hash)).Scan(&link)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return link, mapErr(op, err)
}

// ProofAfter returns the digests of author's entries after after up to
// and including the first that holds a proof, and that proof. An entry on
// the way without a link, or whose link does not follow the one before
// it, ends the search with no proof: the digests would not reach the
// signed link. Where compaction left a bridge (compactbridges.go), its
// digests carry the links across the hole. A tail longer than a proof
// may carry ends the search too.
func (s *Store) ProofAfter(ctx context.Context, author string, after domain.Timestamp) ([][]byte, *domain.AuthorProof, error) {
	const op = "sqlite.ProofAfter"
	// The entries at after's stamp come first: the last of them is where
	// the tail starts (its link, and the bridge it may carry).
	rows, err := s.reader.DB.QueryContext(ctx, `SELECT hash, `+entryData+`, link, proof, (wall, logic, node) = (?2, ?3, ?4) FROM oplog
		WHERE node = ?1 AND (wall, logic, node) >= (?2, ?3, ?4) ORDER BY wall, logic, seq LIMIT ?5`,
		author, after.Wall, after.Logical, after.Node, domain.MaxProofTail)
	if err != nil {
		return nil, nil, mapErr(op, err)
	}
	defer rows.Close()
	var tail, bridge [][]byte
	var prevLink []byte
	for rows.Next() {
		var e domain.Entry
		var data sql.RawBytes
		var link, column []byte
		var start bool
		if err := rows.Scan(storedHash{&e.Hash}, &data, &link, &column, &start); err != nil {
			return nil, nil, mapErr(op, err)
		}
		proof, more, err := decodeStoredProof(column)
		if err != nil {
			return nil, nil, mapErr(op, err)
		}
		if start {
			prevLink, bridge = link, more
			continue
		}
		e.Data = data
		d := domain.EntryDigest(&e)
		if link == nil {
			return nil, nil, nil
		}
		if prevLink != nil && !bytes.Equal(domain.NextLink(prevLink, d), link) {
			crossed := domain.LinkAfter(prevLink, bridge)
			if bridge == nil || !bytes.Equal(domain.NextLink(crossed, d), link) {
				return nil, nil, nil
			}
			tail = append(tail, bridge...)
		}
		if tail = append(tail, d); len(tail) > domain.MaxProofTail {
			return nil, nil, nil
		}
		prevLink, bridge = link, more
		if proof != nil {
			return tail, proof, nil
		}
	}
	return nil, nil, mapErr(op, rows.Err())
}

// SetProof keeps proof (without its LinkBefore) on the entry with hash;
// NOT_FOUND when no entry has that hash.
func (s *Store) SetProof(ctx context.Context, hash string, proof domain.AuthorProof) error {
	const op = "sqlite.SetProof"
	if err := checkProof(op, &proof); err != nil {
		return err
	}
	if hash == "" {
		return domain.Errorf(domain.CodeNotFound, op, "an entry without hash cannot hold a proof")
	}
	encoded := encodeProof(&proof)
	if e, ok := s.recent.lookup(hash); ok {
		n, err := s.setProof(ctx, `UPDATE oplog SET proof = ?2 WHERE seq = ?3 AND hash = ?1`, hashArg(hash), encoded, e.seq)
		if n > 0 || err != nil {
			return mapErr(op, err)
		}
	}
	n, err := s.setProof(ctx, `UPDATE oplog SET proof = ?2 WHERE seq = (`+oplogSeqByHash+`)`, hashArg(hash), encoded)
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return domain.Errorf(domain.CodeNotFound, op, "no entry with hash %q", hash)
	}
	return nil
}

func (s *Store) setProof(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.writer.DB.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PeerKey returns the identity key recorded for nodeID (peerkeys.go).
func (s *Store) PeerKey(ctx context.Context, nodeID string) ([]byte, bool, error) {
	const op = "sqlite.PeerKey"
	var key []byte
	err := s.reader.NewRaw(`SELECT public_key FROM peer_keys WHERE node_id = ?`, nodeID).Scan(ctx, &key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, mapErr(op, err)
	}
	return key, true, nil
}
