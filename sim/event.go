package sim

import (
	"fmt"
	"math/rand/v2"
)

// Kind is what an event does.
type Kind uint8

const (
	KindWrite     Kind = iota // a client Put (or Delete) on node A
	KindRound                 // node A runs an anti-entropy round with node B
	KindTick                  // virtual time moves Value ms; due gossip is delivered
	KindPartition             // the nodes in mask Value are cut from the others, both ways
	KindCut                   // the link from A to B is cut, that way only
	KindHeal                  // every cut link is healed
	KindCrash                 // node A stops; what it did not commit is lost
	KindRestart               // node A starts again over its store
	KindSkew                  // node A's clock is set Value ms off the virtual time
	KindDisk                  // node A's disk refuses writes (Value 1) or takes them again (0)
	KindForge                 // a forger pushes invalid entries of kind Value to node A
	KindCompact               // node A runs a maintenance pass (compaction)
	KindBackup                // node A's store is backed up (online)
	KindRestore               // node A is restored from its backup, under a new node id
)

var kindNames = [...]string{"write", "round", "tick", "partition", "cut", "heal", "crash", "restart", "skew", "disk", "forge", "compact", "backup", "restore"}

func (k Kind) String() string { return kindNames[k] }

// Fate is what happens to one gossip message of a write.
type Fate struct {
	To      int
	Lost    bool
	Dup     bool
	DelayMs int
}

// Event is one step of a schedule. Every random choice it needs is in it
// (Salt seeds the fault decisions of a round's requests), so a schedule
// with events removed (Shrink) replays the others unchanged.
type Event struct {
	Kind  Kind
	A, B  int
	Key   int
	Del   bool
	Value int64
	Salt  uint64
	Fates []Fate
}

func (e Event) String() string {
	switch e.Kind {
	case KindWrite:
		op := "put"
		if e.Del {
			op = "del"
		}
		return fmt.Sprintf("write n%d %s k%d v%d gossip%v", e.A, op, e.Key, e.Value, e.Fates)
	case KindRound, KindCut:
		return fmt.Sprintf("%s n%d→n%d", e.Kind, e.A, e.B)
	case KindTick:
		return fmt.Sprintf("tick +%dms", e.Value)
	case KindPartition:
		return fmt.Sprintf("partition mask=%b", e.Value)
	case KindHeal:
		return "heal"
	case KindCrash, KindRestart:
		return fmt.Sprintf("%s n%d", e.Kind, e.A)
	default:
		return fmt.Sprintf("%s n%d %d", e.Kind, e.A, e.Value)
	}
}

// Generate draws the schedule of a run from its options' seed.
func Generate(o Options) []Event {
	r := rand.New(rand.NewPCG(o.Seed, 0xe7e47))
	other := func(a int) int { return (a + 1 + r.IntN(o.Nodes-1)) % o.Nodes }
	chance := func(p float64) bool { return r.Float64() < p }
	events := make([]Event, 0, o.Events)
	for len(events) < o.Events {
		a := r.IntN(o.Nodes)
		ev := Event{A: a, Salt: r.Uint64()}
		x := r.Float64()
		faults := []struct {
			rate float64
			kind Kind
		}{{o.PartitionRate, KindPartition}, {o.CrashRate, KindCrash}, {o.SkewRate, KindSkew},
			{o.DiskRate, KindDisk}, {o.ForgeRate, KindForge}}
		picked := false
		for _, f := range faults {
			if x < f.rate {
				ev.Kind, picked = f.kind, true
				break
			}
			x -= f.rate
		}
		if !picked {
			switch y := r.IntN(20); {
			case y < 8:
				ev.Kind = KindWrite
			case y < 14:
				ev.Kind = KindRound
			case y < 19:
				ev.Kind = KindTick
			default:
				ev.Kind = KindCompact
			}
		}
		switch ev.Kind {
		case KindWrite:
			ev.Key, ev.Del, ev.Value = r.IntN(o.Keys), r.IntN(4) == 0, int64(r.IntN(1000))
			for b := range o.Nodes {
				if b == a {
					continue
				}
				ev.Fates = append(ev.Fates, Fate{To: b, Lost: chance(o.Loss), Dup: chance(o.Dup), DelayMs: r.IntN(o.MaxDelayMs + 1)})
			}
		case KindRound:
			ev.B = other(a)
		case KindTick:
			// Mostly short, sometimes within one millisecond: writes in the
			// same millisecond exercise the logical counter and tie-breaks.
			ev.Value = int64(r.IntN(3)) * int64(r.IntN(400))
			if r.IntN(10) == 0 {
				// A long wait: retentions pass, peers are forgotten.
				ev.Value = 10_000 + r.Int64N(200_000)
			}
		case KindPartition:
			switch r.IntN(3) {
			case 0:
				ev.Kind = KindHeal
			case 1:
				ev.Kind, ev.B = KindCut, other(a)
			default:
				ev.Value = int64(1 + r.IntN(1<<o.Nodes-2))
			}
		case KindCrash:
			switch r.IntN(10) {
			case 0, 1, 2:
			case 6, 7:
				ev.Kind = KindBackup
			case 8, 9:
				if o.Restores {
					ev.Kind = KindRestore
				}
			default:
				ev.Kind = KindRestart
			}
		case KindSkew:
			// Within the drift limit, beyond it, and backward jumps.
			spans := []int64{o.MaxDriftMs / 2, o.MaxDriftMs * 2, 5_000}
			span := spans[r.IntN(len(spans))]
			ev.Value = r.Int64N(2*span+1) - span
		case KindDisk:
			ev.Value = int64(r.IntN(2))
		case KindForge:
			ev.Value = int64(r.IntN(forgeKinds))
		}
		events = append(events, ev)
	}
	return events
}
