package sim

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

var sqliteSeedsFlag = flag.Int("sqlite-seeds", 20, "how many seeds TestSimSQLite runs on the SQLite store")

// sqliteOptions are a seed's options with the SQLite store forced.
func sqliteOptions(seed uint64) Options {
	o := DeriveOptions(seed)
	o.Store = StoreSQLite
	return o
}

// TestSimSQLite runs seeds on the real SQLite store, where a crash is a
// kill -9 (the seeds DeriveOptions puts there run in TestSim as well).
func TestSimSQLite(t *testing.T) {
	n := *sqliteSeedsFlag
	if testing.Short() {
		n = 20
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		o := sqliteOptions(seed)
		if res := Run(o, Generate(o), false); res.Failure != nil {
			t.Fatal(Report(res))
		}
	}
}

// TestSimSQLiteDeterministic: two runs of a seed on the SQLite store give
// the same trace (the store's checkpointer and its pools do not change what
// the nodes see).
func TestSimSQLiteDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		o := sqliteOptions(seed)
		a, b := Run(o, Generate(o), false), Run(o, Generate(o), false)
		require.Equal(t, a.Digest, b.Digest, "seed %d ran two ways", seed)
		require.Equal(t, a.Failure, b.Failure, "seed %d", seed)
	}
}

// TestSimSQLiteKillPending: a node killed right after acknowledged writes
// whose documents are still pending (committed to the oplog only) loses
// none of them: the copy's Open replays them, the node's next write chains
// on, and the peers, which got no gossip, receive them all at quiescence.
func TestSimSQLiteKillPending(t *testing.T) {
	o := sqliteOptions(1)
	o.Nodes, o.Merge, o.Restores = 3, false, true
	lost := []Fate{{To: 1, Lost: true}, {To: 2, Lost: true}}
	// The delete checks that the key exists, against the documents
	// table: it materializes what is pending. The puts after it stay
	// pending.
	events := []Event{
		{Kind: KindWrite, A: 0, Key: 0, Value: 1, Fates: lost},
		{Kind: KindWrite, A: 0, Key: 0, Del: true, Fates: lost},
	}
	for k := range 5 {
		events = append(events, Event{Kind: KindWrite, A: 0, Key: k, Value: int64(10 + k), Fates: lost})
	}
	events = append(events,
		Event{Kind: KindCrash, A: 0},
		Event{Kind: KindRestart, A: 0},
		Event{Kind: KindWrite, A: 0, Key: 1, Value: 9, Fates: lost},
		Event{Kind: KindCrash, A: 0}, // down at quiescence: started then
	)
	res := Run(o, events, true)
	require.Nil(t, res.Failure, "%s", res.Log)
	require.Equal(t, 8, res.Acked)
	require.Contains(t, res.Log, "  killed with 5 oplog entries past the materialized mark",
		"the first kill found the writes pending")
}
