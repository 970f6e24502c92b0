package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/entgldb/entgldb-go/domain"
)

// Options shape one run. DeriveOptions makes them from a seed, so a seed
// alone names a run.
type Options struct {
	Seed      uint64
	Nodes     int // replicas
	Keys      int // distinct document keys written
	Events    int // events generated before quiescence
	BatchSize int // engine page size: small, so paging is exercised
	// MaxDriftMs is every clock's drift limit.
	MaxDriftMs int64
	// Loss, Dup: the chance that a request or gossip message is lost, and
	// that a push or message is delivered twice.
	Loss, Dup float64
	// MaxDelayMs bounds a gossip message's delay.
	MaxDelayMs int
	// OplogRetentionMs, TombstoneRetentionMs are the maintenance pass's
	// retentions (domain.CompactionPolicy), short so that ticks pass them.
	OplogRetentionMs, TombstoneRetentionMs int64
	// Rates of the fault events among all events (the rest are writes,
	// rounds and ticks).
	PartitionRate, CrashRate, SkewRate, DiskRate, ForgeRate float64
	// Merge: the nodes resolve conflicts with the recursive merge instead
	// of last-write-wins (the model then replays every acknowledged write).
	Merge bool
	// Restores: crash faults include restores from a backup under a new
	// node id (KindRestore).
	Restores bool
	// Store is the nodes' store: StoreMemory (also "") or StoreSQLite, the
	// real SQLite store on files, where a crash is a kill -9.
	Store string
	// ConvergeBound is the number of all-pairs passes of rounds allowed at
	// quiescence.
	ConvergeBound int
}

// DeriveOptions draws a run's options from its seed.
func DeriveOptions(seed uint64) Options {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	o := Options{
		Seed:          seed,
		Nodes:         3 + r.IntN(3),
		Keys:          2 + r.IntN(6),
		Events:        30 + r.IntN(60),
		BatchSize:     2 + r.IntN(7),
		MaxDriftMs:    60_000,
		MaxDelayMs:    1 + r.IntN(3000),
		ConvergeBound: 3,
	}
	// Restored nodes may lose writes, which the merge model does not
	// account for: merge runs go without restores.
	o.Merge = r.IntN(5) == 0
	o.Restores = !o.Merge
	o.OplogRetentionMs = int64(20_000 + r.IntN(180_000))
	o.TombstoneRetentionMs = int64(20_000 + r.IntN(180_000))
	// Some runs are calm, most are faulty: a mix finds both kinds of bug.
	if r.IntN(5) > 0 {
		o.Loss = float64(r.IntN(30)) / 100
		o.Dup = float64(r.IntN(20)) / 100
		o.PartitionRate = float64(r.IntN(8)) / 100
		o.CrashRate = float64(r.IntN(9)) / 100
		o.SkewRate = float64(r.IntN(6)) / 100
		o.DiskRate = float64(r.IntN(5)) / 100
		o.ForgeRate = float64(r.IntN(5)) / 100
	}
	// Drawn last, so the other options of a seed stay what they were
	// before the SQLite mode existed.
	o.Store = StoreMemory
	if r.IntN(sqliteShare) == 0 {
		o.Store = StoreSQLite
	}
	return o
}

// sqliteShare: one seed in sqliteShare runs on the SQLite store, which
// costs more per seed than memory.
const sqliteShare = 100

func (o Options) String() string {
	return fmt.Sprintf("seed=%d nodes=%d keys=%d events=%d batch=%d drift=%dms loss=%.2f dup=%.2f delay<=%dms "+
		"retention=%d/%dms partition=%.2f crash=%.2f skew=%.2f disk=%.2f forge=%.2f merge=%v restores=%v store=%s bound=%d",
		o.Seed, o.Nodes, o.Keys, o.Events, o.BatchSize, o.MaxDriftMs, o.Loss, o.Dup, o.MaxDelayMs,
		o.OplogRetentionMs, o.TombstoneRetentionMs,
		o.PartitionRate, o.CrashRate, o.SkewRate, o.DiskRate, o.ForgeRate, o.Merge, o.Restores, o.Store, o.ConvergeBound)
}

// resolver is the nodes' conflict resolver.
func (o Options) resolver() domain.Resolver {
	if o.Merge {
		return domain.RecursiveMerge{}
	}
	return domain.LastWriteWins{}
}
