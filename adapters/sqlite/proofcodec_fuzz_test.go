package sqlite

import (
	"bytes"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
)

// FuzzDecodeProof: a stored proof column of any bytes decodes to a proof,
// a bridge (compactbridges.go) or a CORRUPTION error, never a panic, and
// what decodes encodes back to the same bytes; a bridge is never read as a
// proof.
func FuzzDecodeProof(f *testing.F) {
	valid := encodeProof(&domain.AuthorProof{PublicKey: bytes.Repeat([]byte{1}, 32), Signature: bytes.Repeat([]byte{2}, 64),
		Tail: [][]byte{bytes.Repeat([]byte{3}, 32)}}).([]byte)
	f.Add(valid)
	f.Add(valid[:proofFixedSize])
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{})
	f.Add([]byte{2})
	bridge := encodeBridge([][]byte{bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte{5}, 32)})
	f.Add(bridge)
	f.Add(bridge[:len(bridge)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, digests, err := decodeStoredProof(b)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeCorruption {
				t.Fatalf("error %v is not CORRUPTION", err)
			}
			return
		}
		if only, _ := decodeProof(b); (only == nil) != (p == nil) {
			t.Fatalf("decodeProof of %x differs from decodeStoredProof", b)
		}
		if digests != nil {
			if p != nil {
				t.Fatalf("%x decoded to a proof and a bridge", b)
			}
			if got := encodeBridge(digests); !bytes.Equal(got, b) {
				t.Fatalf("bridge round trip changed %x into %x", b, got)
			}
			return
		}
		if p == nil {
			if b != nil {
				t.Fatalf("non-nil bytes %x decoded to no proof", b)
			}
			return
		}
		if got := encodeProof(p).([]byte); !bytes.Equal(got, b) {
			t.Fatalf("round trip changed %x into %x", b, got)
		}
	})
}
