package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// BenchmarkEntriesAfterPages pages through 20,000 entries 1,000 at a time,
// as a peer's bootstrap reads them.
func BenchmarkEntriesAfterPages(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const docs = 20000
	for lo := 0; lo < docs; lo += 1000 {
		writes := make([]ports.Write, 1000)
		for i := range writes {
			writes[i] = ports.Write{Entry: domain.Entry{Collection: "users", Key: fmt.Sprintf("u%d", lo+i), Op: domain.OpPut,
				Data: benchDoc(lo + i), Stamp: domain.Timestamp{Wall: wall0 + int64(lo+i), Node: "A"}}}
		}
		if _, err := s.Commit(ctx, domain.LastWriteWins{}, writes...); err != nil {
			b.Fatal(err)
		}
	}
	cpu := startCPU()
	for b.Loop() {
		var since domain.Timestamp
		n := 0
		for {
			page, err := s.EntriesAfter(ctx, since, nil, 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			n += len(page)
			since = page[len(page)-1].Stamp
		}
		if n != docs {
			b.Fatalf("read %d entries", n)
		}
	}
	cpu.report(b, b.N)
	b.ReportMetric(float64(b.N*docs)/b.Elapsed().Seconds(), "entries/s")
}
