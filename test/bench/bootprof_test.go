package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
)

// TestBootstrapProfile times make bench's bootstrap row alone, optionally
// under a CPU profile, so the pull pipeline can be profiled without the
// other rows. It runs only when asked:
//
//	BOOTPROF=1 [BOOTPROF_SRC=dir] [BOOTPROF_CPU=file] [BOOTPROF_ROUNDS=3] \
//	  go test ./test/bench -run TestBootstrapProfile -v -timeout 20m
//
// BOOTPROF_SRC keeps node A's directory between runs (it is loaded with
// 100,000 batched + 5,000 documents on first use), so successive runs (or
// builds) time only the bootstrap.
// cpuTime is the user+system CPU time of this process so far: on a shared
// machine it moves less than wall time with other people's load.
func cpuTime() time.Duration {
	u, s := userSys()
	return u + s
}

func userSys() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func TestBootstrapProfile(t *testing.T) {
	if os.Getenv("BOOTPROF") == "" {
		t.Skip("set BOOTPROF=1 to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	src := os.Getenv("BOOTPROF_SRC")
	if src == "" {
		src = t.TempDir()
	}
	rounds, _ := strconv.Atoi(os.Getenv("BOOTPROF_ROUNDS"))
	rounds = max(rounds, 1)

	cfgA, err := nodeConfig(filepath.Join(src, "node-a"), "bench-a", nil)
	require.NoError(t, err)
	if n, _ := strconv.Atoi(os.Getenv("BOOTPROF_BATCH")); n > 0 {
		cfgA.Sync.BatchSize = n // entries per page node A serves
	}
	_, statErr := os.Stat(cfgA.Persistence.DatabasePath)
	a, err := openNode(ctx, cfgA)
	require.NoError(t, err)
	defer stopNode(a)
	if errors.Is(statErr, os.ErrNotExist) {
		_, err := benchBatch(ctx, database(a), 100_000)
		require.NoError(t, err)
		c := database(a).Collection(putCollection)
		rnd := rand.New(rand.NewPCG(5, 0))
		for lo := 0; lo < 5000; lo += batchSize {
			b := app.Batch{Puts: map[string][]byte{}}
			for i := lo; i < lo+batchSize; i++ {
				b.Puts[docKey(i)] = docBody(i, rnd)
			}
			_, err := c.Batch(ctx, b)
			require.NoError(t, err)
		}
	}
	want, err := countAll(ctx, database(a), putCollection, docsCollection)
	require.NoError(t, err)

	if path := os.Getenv("BOOTPROF_CPU"); path != "" {
		f, err := os.Create(path)
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	if path := os.Getenv("BOOTPROF_MEM"); path != "" {
		// Allocations of the bootstrap rounds only (alloc_space).
		runtime.MemProfileRate = 64 << 10
		defer func() {
			f, err := os.Create(path)
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, pprof.Lookup("allocs").WriteTo(f, 0))
		}()
	}
	for r := 0; r < rounds; r++ {
		// A new node id each time: node A keeps the identity key it first
		// saw for a node id, and every node B has a new one.
		cfgB, err := nodeConfig(filepath.Join(t.TempDir(), "node-b"), fmt.Sprintf("bench-b-%d-%d", time.Now().UnixNano(), r), nil)
		require.NoError(t, err)
		func() {
			b, err := openNode(ctx, cfgB)
			require.NoError(t, err)
			defer stopNode(b)
			drv, err := newRoundDriver(b, cfgB, peerAddr(cfgA))
			require.NoError(t, err)
			defer drv.close()
			cpu0 := cpuTime()
			_, sys0 := userSys()
			docsPerSec, took, err := benchBootstrap(ctx, drv, database(b), want)
			require.NoError(t, err)
			cpu := cpuTime() - cpu0
			_, sys1 := userSys()
			st := drv.engine.Stats()
			t.Logf("bootstrap %d docs: %.0f docs/s (%.2f s) cpu %.2f s (sys %.2f) = %.0f docs per cpu-s; pulled %d, %d bytes in, snapshots %d, rounds %d",
				want, docsPerSec, took.Seconds(), cpu.Seconds(), (sys1 - sys0).Seconds(), float64(want)/cpu.Seconds(),
				st.EntriesPulled, st.BytesIn, st.Snapshots, st.Rounds)
		}()
	}
}
