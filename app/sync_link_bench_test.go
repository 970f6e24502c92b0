package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// benchChain is n chained entries of one author, as a bootstrap page holds.
func benchChain(n int) []domain.Entry {
	out := make([]domain.Entry, n)
	prev := ""
	for i := range out {
		e := domain.Entry{Collection: "docs", Key: fmt.Sprintf("d%08d", i), Op: domain.OpPut,
			Data:  []byte(`{"n":1}`),
			Stamp: domain.Timestamp{Wall: 1764000000000 + int64(i), Node: "bench-a"}}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}

// BenchmarkPageChecks is the per-page work of the applying goroutine
// besides storage: validation (content, hashes, drift) and chain linking.
func BenchmarkPageChecks(b *testing.B) {
	page := benchChain(1000)
	clock := domain.NewClock("me", func() int64 { return time.Now().UnixMilli() }, 60_000)
	b.ReportAllocs()
	for b.Loop() {
		valid, rejected := validateEntries(clock, domain.EntryLimits{}, page)
		linked, gaps := domain.LinkEntries(valid, domain.VectorClock{}, map[string]string{})
		if len(rejected) > 0 || len(gaps) > 0 || len(linked) != len(page) {
			b.Fatal(len(rejected), len(gaps), len(linked))
		}
	}
}
