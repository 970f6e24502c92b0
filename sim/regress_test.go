package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSimRegressions replays the schedules the simulator found breaking an
// invariant, each fixed since: the seed it was found at (its options) and
// its schedule shrunk, with the round salts pinned to the faults it needs.
func TestSimRegressions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seed   uint64
		events []Event
	}{{
		// Found at seed 258: two lost vector-clock probes made n0 take n1
		// and n2, Go peers, for v4 nodes for LegacyRecheck; a v4 round
		// neither fills a chain gap nor bootstraps, so once both had
		// compacted the entry n0 lacked, n0 could not catch up, and
		// their pushes answered snapshot_required round after round.
		name: "probe timeouts do not demote a Go peer to v4", seed: 258,
		events: []Event{
			{Kind: KindWrite, A: 1, Key: 0, Value: 463, Fates: []Fate{{To: 0, DelayMs: 126}, {To: 2, DelayMs: 109}}},
			{Kind: KindDisk, A: 0, Value: 1},
			{Kind: KindRound, A: 0, B: 1, Salt: 205}, // loses the probe on both sessions
			{Kind: KindWrite, A: 1, Key: 0, Value: 485, Fates: []Fate{{To: 0, DelayMs: 570}, {To: 2, DelayMs: 400}}},
			{Kind: KindTick, Value: 149_744},
			{Kind: KindCompact, A: 1},
			{Kind: KindCompact, A: 2},
			{Kind: KindRound, A: 0, B: 2, Salt: 205},
		},
	}, {
		// Found at seed 264 (with restores): n2's second write reached no
		// peer (its gossip to n0 arrived before the first, to n1 after
		// the first was lost), then n2 was restored from a backup holding
		// it, under a new id as the restore procedure says. Its own
		// entries were proven by signing them as n2; under its new id the
		// node signed none of them, so that write was refused by every
		// peer, round after round.
		name: "a node restored under a new id still proves its former id's entries", seed: 264,
		events: []Event{
			{Kind: KindWrite, A: 2, Key: 1, Value: 201, Fates: []Fate{{To: 0, DelayMs: 2387}, {To: 1, Lost: true, DelayMs: 1330}}},
			{Kind: KindWrite, A: 2, Key: 0, Value: 881, Fates: []Fate{{To: 0, DelayMs: 71}, {To: 1, DelayMs: 1603}}},
			{Kind: KindBackup, A: 2},
			{Kind: KindRestore, A: 2},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			o := DeriveOptions(tc.seed)
			res := Run(o, tc.events, true)
			require.Nil(t, res.Failure, "%s\n%s", o, res.Log)
		})
	}
}
