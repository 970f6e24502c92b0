package sqlite

import (
	"crypto/ed25519"

	"github.com/entgldb/entgldb-go/domain"
)

// A stored proof (the oplog's proof column) is one version byte, the
// 32-byte key, the 64-byte signature, then the 32-byte tail digests.
// LinkBefore is not kept: it depends on where a page starts.
const (
	proofCodecV1   = 1
	proofFixedSize = 1 + ed25519.PublicKeySize + ed25519.SignatureSize
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

// decodeProof reads a proof column (nil: none).
func decodeProof(b []byte) (*domain.AuthorProof, error) {
	const op = "sqlite.decodeProof"
	if b == nil {
		return nil, nil
	}
	if len(b) < proofFixedSize || b[0] != proofCodecV1 || (len(b)-proofFixedSize)%domain.LinkSize != 0 {
		return nil, domain.Errorf(domain.CodeCorruption, op, "stored proof of %d bytes is malformed", len(b))
	}
	p := &domain.AuthorProof{
		PublicKey: b[1 : 1+ed25519.PublicKeySize : 1+ed25519.PublicKeySize],
		Signature: b[1+ed25519.PublicKeySize : proofFixedSize : proofFixedSize],
	}
	for rest := b[proofFixedSize:]; len(rest) > 0; rest = rest[domain.LinkSize:] {
		p.Tail = append(p.Tail, rest[:domain.LinkSize:domain.LinkSize])
	}
	return p, nil
}
