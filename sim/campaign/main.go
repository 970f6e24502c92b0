// Command campaign runs the simulator over a range of seeds on every core,
// with a progress bar, and prints a summary: seeds per second, failures by
// invariant, and the first failing seeds with the command that replays
// each. `make sim SEEDS=100000` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/sim"
)

func main() {
	seeds := flag.Int("seeds", 10_000, "how many seeds to run")
	from := flag.Uint64("from", 1, "the first seed")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "seeds run at once")
	scale := flag.Bool("scale", false, "report convergence rounds of 10, 50 and 200 nodes instead")
	store := flag.String("store", "", "run every seed on this store (memory or sqlite; empty: as the seed says)")
	flag.Parse()
	if *scale {
		os.Exit(runScale(*from))
	}
	os.Exit(run(*from, *seeds, *workers, *store))
}

// runScale reports how many anti-entropy rounds meshes of growing size
// take to converge with the default fan-out.
func runScale(seed uint64) int {
	for _, parallel := range []bool{true, false} {
		for _, n := range []int{10, 50, 200} {
			res, err := sim.Scale(seed, n, domain.DefaultSyncFanout, 50, parallel)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Println(res)
		}
	}
	return 0
}

type failure struct {
	seed uint64
	f    *sim.Failure
}

func run(from uint64, seeds, workers int, store string) int {
	var (
		next   atomic.Uint64
		done   atomic.Int64
		mu     sync.Mutex
		failed []failure
		wg     sync.WaitGroup
	)
	next.Store(from)
	end := from + uint64(seeds)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				seed := next.Add(1) - 1
				if seed >= end {
					return
				}
				o := sim.DeriveOptions(seed)
				if store != "" {
					o.Store = store
				}
				if res := sim.Run(o, sim.Generate(o), false); res.Failure != nil {
					mu.Lock()
					failed = append(failed, failure{seed, res.Failure})
					mu.Unlock()
				}
				done.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	var bar sync.WaitGroup
	bar.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				progress(int(done.Load()), seeds, start)
			}
		}
	})
	wg.Wait()
	close(stop)
	bar.Wait()
	progress(seeds, seeds, start)
	fmt.Fprintln(os.Stderr)

	took := time.Since(start)
	fmt.Printf("seeds %d..%d: %d runs in %s on %d workers, %.0f seeds/s\n", from, end-1, seeds,
		took.Round(time.Millisecond), workers, float64(seeds)/took.Seconds())
	if len(failed) == 0 {
		fmt.Println("no invariant broken")
		return 0
	}
	slices.SortFunc(failed, func(a, b failure) int { return int(a.seed) - int(b.seed) })
	byInvariant := map[string]int{}
	for _, f := range failed {
		byInvariant[f.f.Invariant]++
	}
	names := make([]string, 0, len(byInvariant))
	for n := range byInvariant {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Printf("%d failures:", len(failed))
	for _, n := range names {
		fmt.Printf(" %s=%d", n, byInvariant[n])
	}
	fmt.Println()
	for _, f := range failed[:min(len(failed), 10)] {
		fmt.Printf("  seed %d: %v\n    replay: go test ./sim -run 'TestSim$' -seed %d -v\n", f.seed, f.f, f.seed)
	}
	return 1
}

// progress draws a one-line bar on stderr.
func progress(done, total int, start time.Time) {
	const width = 40
	filled := width * done / max(total, 1)
	rate := float64(done) / max(time.Since(start).Seconds(), 1e-9)
	fmt.Fprintf(os.Stderr, "\r[%-*s] %d/%d  %.0f seeds/s", width, string(bytesOf('#', filled)), done, total, rate)
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
