package memory

import (
	"bytes"

	"github.com/entgldb/entgldb-go/domain"
)

// Bridges, as the SQLite adapter keeps them (its compactbridges.go): when
// compaction removes entries right after an entry p it keeps, without a
// proof, p keeps either the first removed proof, moved, with the removed
// entries' digests up to it in front of its tail, or a bridge: the digests
// of every removed entry up to the next entry held, so ProofAfter hashes
// across the hole towards the next proof. Neither is trusted by a
// verifier: both only lead to a signature, which covers them.

// bridgeHoles keeps what proving needs across each run of removed entries
// (indexes into the log) of chain, one author's entries in chain order.
func (s *Store) bridgeHoles(chain []int, removed map[int]bool) {
	for j := 1; j < len(chain); j++ {
		p := &s.log[chain[j-1]]
		if !removed[chain[j]] || removed[chain[j-1]] || p.Link == nil || p.Proof != nil {
			continue
		}
		// A bridge from an earlier pass ends just before chain[j].
		acc := s.bridges[p.Hash]
		delete(s.bridges, p.Hash)
		link := domain.LinkAfter(p.Link, acc)
		for k := j; k < len(chain) && removed[chain[k]]; k++ {
			r := &s.log[chain[k]]
			d := domain.EntryDigest(r)
			if r.Link == nil || !bytes.Equal(domain.NextLink(link, d), r.Link) {
				acc = nil // the chain does not follow: the hole cuts it
				break
			}
			acc = append(acc, d)
			if r.Proof != nil {
				if len(acc)+len(r.Proof.Tail) <= domain.MaxProofTail {
					moved := cloneProof(r.Proof)
					moved.Tail = append(acc, moved.Tail...)
					p.Proof = moved
				}
				acc = nil
				break
			}
			more := s.bridges[r.Hash]
			acc = append(acc, more...)
			link = domain.LinkAfter(r.Link, more)
		}
		if len(acc) > 0 {
			if s.bridges == nil {
				s.bridges = map[string][][]byte{}
			}
			s.bridges[p.Hash] = acc
		}
	}
}

func cloneDigests(ds [][]byte) [][]byte {
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i] = bytes.Clone(d)
	}
	return out
}
