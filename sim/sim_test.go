package sim

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	seedFlag  = flag.Uint64("seed", 0, "replay this one seed (TestSim), with its trace")
	seedsFlag = flag.Int("seeds", 2000, "how many seeds TestSim runs")
	storeFlag = flag.String("store", "", "with -seed: run it on this store (memory, sqlite) instead of the seed's")
)

// TestSim runs the CI budget of seeds (or the one -seed names) and fails
// with the seed, its options and a shrunk schedule on the first invariant
// broken.
func TestSim(t *testing.T) {
	if *seedFlag != 0 {
		o := DeriveOptions(*seedFlag)
		if *storeFlag != "" {
			o.Store = *storeFlag
		}
		res := Run(o, Generate(o), true)
		t.Log(o)
		for _, line := range res.Log {
			t.Log(line)
		}
		require.Nil(t, res.Failure, "%s", o)
		return
	}
	n := *seedsFlag
	if testing.Short() {
		n = 200
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		if res := RunSeed(seed); res.Failure != nil {
			t.Fatal(Report(res))
		}
	}
}

// TestSimDeterministic runs seeds twice: the trace digests must match.
func TestSimDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		a, b := RunSeed(seed), RunSeed(seed)
		require.Equal(t, a.Digest, b.Digest, "seed %d ran two ways", seed)
		require.Equal(t, a.Failure, b.Failure, "seed %d", seed)
	}
}

// TestSimScale: a mesh of 10 converges by anti-entropy alone with the
// default fan-out, within a few rounds (the campaign's -scale flag
// reports 10, 50 and 200 nodes).
func TestSimScale(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		res, err := Scale(1, 10, 3, 20, parallel)
		require.NoError(t, err)
		require.Positive(t, res.Rounds, "%s", res)
		t.Log(res)
	}
}
