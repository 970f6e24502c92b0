//go:build simbugs

package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// plantedBugs are the defects TestPlantedBugs plants one at a time.
var plantedBugs = []domain.Bug{domain.BugLWWTieBreak, domain.BugVectorClockOffByOne, domain.BugClockNotRestored,
	domain.BugAckBeforeCommit, domain.BugSkipProofCheck, domain.BugApplyUnlinked, domain.BugSkipGapFill,
	domain.BugTombstoneNoMarker}

// TestPlantedBugs plants each bug in turn and reports how many seeds the
// simulator needs to catch it; each must be caught within the CI budget
// (-seeds). Run with: go test -tags simbugs ./sim -run TestPlantedBugs -v
func TestPlantedBugs(t *testing.T) {
	for _, bug := range plantedBugs {
		t.Run(string(bug), func(t *testing.T) {
			domain.Plant(bug, true)
			defer domain.Plant(bug, false)
			for seed := uint64(1); seed <= uint64(*seedsFlag); seed++ {
				if res := RunSeed(seed); res.Failure != nil {
					o := res.Options
					events := Generate(o)
					short := Shrink(o, events, res.Failure.Invariant, 3000)
					require.NotNil(t, Run(o, short, false).Failure, "the shrunk schedule still fails")
					t.Logf("%-20s caught at seed %4d by %-8s schedule %3d → %2d events: %s", bug, seed,
						res.Failure.Invariant, len(events), len(short), res.Failure.Detail)
					return
				}
			}
			t.Fatalf("%s not caught within %d seeds", bug, *seedsFlag)
		})
	}
}

// TestPlantedBugsSQLite: the planted bugs that concern what a node keeps
// are caught on the SQLite store too, within -sqlite-seeds.
func TestPlantedBugsSQLite(t *testing.T) {
	for _, bug := range []domain.Bug{domain.BugAckBeforeCommit} {
		t.Run(string(bug), func(t *testing.T) {
			domain.Plant(bug, true)
			defer domain.Plant(bug, false)
			for seed := uint64(1); seed <= uint64(*sqliteSeedsFlag); seed++ {
				o := sqliteOptions(seed)
				if res := Run(o, Generate(o), false); res.Failure != nil {
					t.Logf("%-20s caught on sqlite at seed %4d by %-8s %s", bug, seed, res.Failure.Invariant, res.Failure.Detail)
					return
				}
			}
			t.Fatalf("%s not caught on sqlite within %d seeds", bug, *sqliteSeedsFlag)
		})
	}
}
