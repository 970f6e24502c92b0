package main

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
)

// verifyPage is the page the verification row checks: one author's run,
// as a pull page of the bootstrap row carries it.
const verifyPage = 500

// benchVerify measures what checking a peer's page for its author adds
// per entry to a pull (domain.VerifyRunHashed, as the pull calls it: each
// entry's digest, the links, one ed25519 signature per run; the hashes are
// checked with the rest of an entry's validation), over ~500-byte
// documents like the other rows.
func benchVerify() (nsPerEntry float64, err error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return 0, err
	}
	run := make([]domain.Entry, verifyPage)
	prev := ""
	for i := range run {
		e := domain.Entry{Collection: docsCollection, Key: fmt.Sprintf("doc-%06d", i), Op: domain.OpPut,
			Data:  []byte(fmt.Sprintf(`{"n":%d,"body":"%0470d"}`, i, i)),
			Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(i), Node: "bench-a"}}
		e.Seal(prev)
		prev = e.Hash
		run[i] = e
	}
	links := domain.LinkRun(domain.GenesisLink, run)
	proof := &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: domain.GenesisLink,
		Signature: domain.SignHead(key, "bench-a", links[len(links)-1])}
	if _, err := domain.VerifyRunHashed("bench-a", run, proof); err != nil {
		return 0, err
	}
	var failed error
	res := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := domain.VerifyRunHashed("bench-a", run, proof); err != nil {
				failed = err
				b.FailNow()
			}
		}
	})
	if failed != nil {
		return 0, failed
	}
	return float64(res.NsPerOp()) / verifyPage, nil
}
