package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// BenchmarkCompact: one pass over an oplog of 20,000 updates of 1,000
// keys written by one author (make bench's disk row, smaller): every
// superseded entry goes. Reported per removed entry, in wall and CPU time;
// the pass runs alone, so it never pauses for writers.
func BenchmarkCompact(b *testing.B) {
	const keys, rounds = 1000, 20
	s := benchStore(b)
	ctx := context.Background()
	i := 0
	write := func() {
		for range rounds {
			ws := make([]ports.Write, keys)
			for k := range ws {
				ws[k] = ports.Write{Entry: domain.Entry{Collection: "sensors", Key: fmt.Sprint("k", k), Op: domain.OpPut,
					Data: benchDoc(i), Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "A"}}}
				i++
			}
			if _, err := s.Commit(ctx, domain.LastWriteWins{}, ws...); err != nil {
				b.Fatal(err)
			}
		}
	}
	removed := 0
	cpu := startCPU()
	for b.Loop() {
		b.StopTimer()
		cpu.pause()
		write()
		vc, err := s.VectorClock(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cpu.resume()
		b.StartTimer()
		res, err := s.Compact(ctx, domain.CompactionPolicy{HeldByAll: vc, Now: wall0 + int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		removed += res.EntriesRemoved
	}
	if removed == 0 {
		b.Fatal("nothing removed")
	}
	cpu.report(b, removed)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(removed), "ns/removed")
}
