package sqlite

import (
	"crypto/ed25519"

	"github.com/entgldb/entgldb-go/domain"
)

// A stored proof (the oplog's proof column) is one version byte, the
// 32-byte key, the 64-byte signature, then the 32-byte tail digests.
// LinkBefore is not kept: it depends on where a page starts.
//
// The column of an entry without a proof may instead hold a bridge
// (compactbridges.go): the version byte proofCodecBridge, then the
// 32-byte digests of the entries compaction removed after it, up to the
// next entry its author's chain still holds. A bridge proves nothing by
// itself: reads of entries see no proof, and a verifier only hashes
// through it towards a signature.
const (
	proofCodecV1     = 1
	proofCodecBridge = 2
	proofFixedSize   = 1 + ed25519.PublicKeySize + ed25519.SignatureSize
)

// checkProofs refuses entries whose link or proof parts have lengths the
// column encoding cannot hold (the app verified them; this keeps a caller's
// mistake from being stored misaligned).
func checkProofs(op string, entries []domain.Entry) error {
	for i := range entries {
		e := &entries[i]
		if e.Link != nil && len(e.Link) != domain.LinkSize {
			return domain.Errorf(domain.CodeInvalidArgument, op, "entry %s/%s: link of %d bytes", e.Collection, e.Key, len(e.Link))
		}
		if err := checkProof(op, e.Proof); err != nil {
			return err
		}
	}
	return nil
}

func checkProof(op string, p *domain.AuthorProof) error {
	if p == nil {
		return nil
	}
	if len(p.PublicKey) != ed25519.PublicKeySize || len(p.Signature) != ed25519.SignatureSize {
		return domain.Errorf(domain.CodeInvalidArgument, op, "proof with a key of %d or a signature of %d bytes", len(p.PublicKey), len(p.Signature))
	}
	for _, d := range p.Tail {
		if len(d) != domain.LinkSize {
			return domain.Errorf(domain.CodeInvalidArgument, op, "proof with a tail digest of %d bytes", len(d))
		}
	}
	return nil
}

// encodeProof is the column value of p: NULL for none.
func encodeProof(p *domain.AuthorProof) any {
	if p == nil {
		return nil
	}
	b := make([]byte, 0, proofFixedSize+domain.LinkSize*len(p.Tail))
	b = append(b, proofCodecV1)
	b = append(b, p.PublicKey...)
	b = append(b, p.Signature...)
	for _, d := range p.Tail {
		b = append(b, d...)
	}
	return b
}

// decodeProof reads a proof column (nil: none, or a bridge).
func decodeProof(b []byte) (*domain.AuthorProof, error) {
	p, _, err := decodeStoredProof(b)
	return p, err
}

// encodeBridge is the column value of a bridge of digests (at least one).
func encodeBridge(digests [][]byte) []byte {
	b := make([]byte, 0, 1+domain.LinkSize*len(digests))
	b = append(b, proofCodecBridge)
	for _, d := range digests {
		b = append(b, d...)
	}
	return b
}

// decodeStoredProof reads a proof column: a proof, a bridge, or neither.
func decodeStoredProof(b []byte) (*domain.AuthorProof, [][]byte, error) {
	const op = "sqlite.decodeProof"
	if b == nil {
		return nil, nil, nil
	}
	if len(b) > 0 && b[0] == proofCodecBridge {
		if len(b) == 1 || (len(b)-1)%domain.LinkSize != 0 {
			return nil, nil, domain.Errorf(domain.CodeCorruption, op, "stored bridge of %d bytes is malformed", len(b))
		}
		return nil, splitDigests(b[1:]), nil
	}
	if len(b) < proofFixedSize || b[0] != proofCodecV1 || (len(b)-proofFixedSize)%domain.LinkSize != 0 {
		return nil, nil, domain.Errorf(domain.CodeCorruption, op, "stored proof of %d bytes is malformed", len(b))
	}
	p := &domain.AuthorProof{
		PublicKey: b[1 : 1+ed25519.PublicKeySize : 1+ed25519.PublicKeySize],
		Signature: b[1+ed25519.PublicKeySize : proofFixedSize : proofFixedSize],
		Tail:      splitDigests(b[proofFixedSize:]),
	}
	return p, nil, nil
}

// splitDigests cuts b (a multiple of LinkSize) into digests.
func splitDigests(b []byte) [][]byte {
	var out [][]byte
	for ; len(b) > 0; b = b[domain.LinkSize:] {
		out = append(out, b[:domain.LinkSize:domain.LinkSize])
	}
	return out
}
