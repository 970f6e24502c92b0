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
	benchCompact(b, func(int) []int { return nil })
}

// BenchmarkCompactHoles is BenchmarkCompact with a third of the keys left
// out of each round, a different third each time: the entries that stay
// lie between removed ones, so nearly every batch leaves holes in the
// author's chain, each bridged (compactbridges.go).
func BenchmarkCompactHoles(b *testing.B) {
	benchCompact(b, func(round int) []int {
		var skip []int
		for k := round % 3; k < 1000; k += 3 {
			skip = append(skip, k)
		}
		return skip
	})
}

// benchCompact runs the compaction benchmark; skip names the keys a round
// leaves out.
func benchCompact(b *testing.B, skip func(round int) []int) {
	const keys, rounds = 1000, 20
	s := benchStore(b)
	ctx := context.Background()
	i, round := 0, 0
	write := func() {
		for range rounds {
			left := map[int]bool{}
			round++
			for _, k := range skip(round) {
				left[k] = true
			}
			ws := make([]ports.Write, 0, keys)
			for k := range keys {
				if left[k] {
					continue
				}
				ws = append(ws, ports.Write{Entry: domain.Entry{Collection: "sensors", Key: fmt.Sprint("k", k), Op: domain.OpPut,
					Data: benchDoc(i), Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "A"}}})
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
