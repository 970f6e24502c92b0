package sqlite

import (
	"bytes"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
)

// FuzzDecodeProof: a stored proof column of any bytes decodes to a proof
// or a CORRUPTION error, never a panic, and what decodes encodes back to
// the same bytes.
func FuzzDecodeProof(f *testing.F) {
	valid := encodeProof(&domain.AuthorProof{PublicKey: bytes.Repeat([]byte{1}, 32), Signature: bytes.Repeat([]byte{2}, 64),
		Tail: [][]byte{bytes.Repeat([]byte{3}, 32)}}).([]byte)
	f.Add(valid)
	f.Add(valid[:proofFixedSize])
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProof(b)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeCorruption {
				t.Fatalf("error %v is not CORRUPTION", err)
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
