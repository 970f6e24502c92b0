package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
)

// BenchmarkFindQueries100k: the query shapes of issue 18 over 100k
// documents, "n" indexed: $in with 1,000 values on it, an $elemMatch over
// arrays of objects, and an unindexed equality (a full scan through the
// evaluator).
func BenchmarkFindQueries100k(b *testing.B) {
	const docs = 100_000
	s := benchStore(b)
	ctx := context.Background()
	if err := s.EnsureIndex(ctx, "users", "n"); err != nil {
		b.Fatal(err)
	}
	for batch := 0; batch*1000 < docs; batch++ {
		out := make([]domain.Entry, 1000)
		prev := ""
		for j := range out {
			i := batch*1000 + j
			e := domain.Entry{Collection: "users", Key: fmt.Sprintf("u%d", i), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"n":%d,"name":"user-%d","items":[{"sku":"s%d","qty":%d},{"sku":"s%d","qty":%d}],"bio":%s}`,
					i%1000, i, i%10, i%5, (i+3)%10, i%7, benchBio),
				Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "B"}}
			e.Seal(prev)
			prev = e.Hash
			out[j] = e
		}
		if _, err := s.ApplyRemote(ctx, domain.LastWriteWins{}, out); err != nil {
			b.Fatal(err)
		}
	}
	in := make([]any, 1000)
	for i := range in {
		in[i] = i * 7 // ~143 of the 1,000 values of n are present
	}
	for name, f := range map[string]domain.Filter{
		"in1000":    domain.In{Path: "n", Values: in},
		"elemMatch": domain.ElemMatch{Path: "items", Filter: domain.And{Filters: []domain.Filter{domain.Cmp{Op: domain.OpEq, Path: "sku", Value: "s7"}, domain.Cmp{Op: domain.OpGte, Path: "qty", Value: 3}}}},
		"scanEq":    domain.Cmp{Op: domain.OpEq, Path: "name", Value: "user-77"},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Find(ctx, "users", domain.Query{Filter: f, Take: 100}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/find")
		})
	}
}
