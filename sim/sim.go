package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// epochMs is where virtual time starts.
const epochMs = 1_700_000_000_000

// collection holds every document the simulation writes.
const collection = "docs"

// Result is what a run did.
type Result struct {
	Options Options
	// Digest is a SHA-256 over every event, every request and message with
	// its outcome, and the final state: equal for two runs of one schedule.
	Digest string
	// Failure is the first invariant that did not hold (nil: none).
	Failure *Failure
	// Passes is the number of all-pairs passes of rounds quiescence took.
	Passes int
	// Acked counts acknowledged writes; Delivered gossip messages applied.
	Acked, Delivered int
	// Log is the trace in text (Run with Verbose only).
	Log []string
}

// Failure is an invariant that did not hold.
type Failure struct {
	Invariant string // "clock", "converge", "lww", "chain", "forged", "setup"
	Event     int    // index of the event it broke at; -1: at quiescence
	Detail    string
}

func (f *Failure) Error() string {
	at := "at quiescence"
	if f.Event >= 0 {
		at = fmt.Sprintf("at event %d", f.Event)
	}
	return fmt.Sprintf("invariant %s broken %s: %s", f.Invariant, at, f.Detail)
}

// Sim is one run in progress.
type Sim struct {
	opts    Options
	ctx     context.Context
	now     int64
	net     *memnet.Network
	media   *media
	nodes   []*node
	msgs    []message
	sent    int
	model   *model
	trace   hash.Hash
	verbose bool
	log     []string
	res     Result
}

// message is a gossip push in flight.
type message struct {
	due      int64
	seq      int
	from, to int
	entries  []domain.Entry
}

// RunSeed runs the schedule a seed names.
func RunSeed(seed uint64) Result {
	o := DeriveOptions(seed)
	return Run(o, Generate(o), false)
}

// Run executes events under o, then brings the nodes to quiescence and
// checks the invariants. verbose keeps the trace in text in Result.Log.
func Run(o Options, events []Event, verbose bool) Result {
	s := &Sim{opts: o, ctx: context.Background(), now: epochMs, net: memnet.New(), model: newModel(),
		trace: sha256.New(), verbose: verbose}
	s.res.Options = o
	m, err := newMedia(o.Store)
	if err != nil {
		s.res.Failure = &Failure{"setup", -1, err.Error()}
		return s.res
	}
	s.media = m
	defer m.close()
	s.res.Failure = s.run(events)
	s.res.Digest = hex.EncodeToString(s.trace.Sum(nil))
	s.res.Log = s.log
	return s.res
}

func (s *Sim) run(events []Event) *Failure {
	for i := range s.opts.Nodes {
		n, err := s.newNode(i)
		if err != nil {
			return &Failure{"setup", -1, err.Error()}
		}
		s.nodes = append(s.nodes, n)
	}
	for _, n := range s.nodes {
		if err := n.pinKeys(s.ctx, s.nodes); err != nil {
			return &Failure{"setup", -1, err.Error()}
		}
		if err := n.start(s); err != nil {
			return &Failure{"setup", -1, err.Error()}
		}
	}
	for i, ev := range events {
		s.record("e%d %s", i, ev)
		if f := s.step(i, ev); f != nil {
			return f
		}
		// A forged entry is caught the moment it lands, not only at the end:
		// after the events that bring remote entries.
		if ev.Kind != KindRound && ev.Kind != KindTick && ev.Kind != KindForge {
			continue
		}
		for _, n := range s.nodes {
			if f := s.checkHonest(n); f != nil {
				f.Event = i
				return f
			}
		}
	}
	return s.quiesce()
}

// record adds a line to the trace.
func (s *Sim) record(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	s.trace.Write([]byte(line))
	s.trace.Write([]byte{'\n'})
	if s.verbose {
		s.log = append(s.log, line)
	}
}

func (s *Sim) step(i int, ev Event) *Failure {
	if ev.A >= len(s.nodes) || ev.B >= len(s.nodes) {
		return nil
	}
	n := s.nodes[ev.A]
	switch ev.Kind {
	case KindWrite:
		return s.write(i, n, ev)
	case KindRound:
		s.round(n, s.nodes[ev.B], ev.Salt, true)
	case KindTick:
		s.now += ev.Value
		s.deliver(s.now)
	case KindPartition:
		for a, x := range s.nodes {
			for b, y := range s.nodes {
				if ev.Value>>a&1 == 1 && ev.Value>>b&1 == 0 {
					s.net.Cut(x.id, y.addr, true)
					s.net.Cut(y.id, x.addr, true)
				}
			}
		}
	case KindCut:
		s.net.Cut(n.id, s.nodes[ev.B].addr, true)
	case KindHeal:
		s.heal()
	case KindCrash:
		if n.up {
			if err := n.crash(s); err != nil {
				return &Failure{"setup", i, "crash: " + err.Error()}
			}
		}
	case KindRestart:
		if !n.up {
			if err := n.start(s); err != nil {
				s.record("  restart failed: %v", domain.CodeOf(err))
			}
		}
	case KindSkew:
		n.skew = ev.Value
	case KindDisk:
		n.disk.refuse = ev.Value == 1
	case KindForge:
		s.forge(n, int(ev.Value))
	case KindBackup:
		bk, err := s.media.backup(s.ctx, n.id, n.disk.backend)
		if err != nil {
			s.record("  backup failed: %v", domain.CodeOf(err))
			return nil
		}
		n.backup = bk
	case KindRestore:
		return s.restore(i, n)
	case KindCompact:
		if !n.up {
			s.record("  down")
			return nil
		}
		res, err := n.maint.RunOnce(s.ctx)
		n.holesOK = n.holesOK || res.EntriesRemoved > 0
		s.record("  compacted %d entries, %d tombstones: %v", res.EntriesRemoved, res.TombstonesRemoved, domain.CodeOf(err))
	}
	return nil
}

func (s *Sim) heal() {
	for _, x := range s.nodes {
		for _, y := range s.nodes {
			s.net.Cut(x.id, y.addr, false)
		}
	}
}

// write runs a client write, checks the stamp it was given, records it in
// the model when acknowledged and sends its gossip.
func (s *Sim) write(i int, n *node, ev Event) *Failure {
	if !n.up {
		s.record("  down")
		return nil
	}
	key := fmt.Sprintf("k%d", ev.Key)
	var (
		ts   domain.Timestamp
		err  error
		data []byte
	)
	if ev.Del {
		ts, err = n.db.Delete(s.ctx, collection, key)
	} else {
		data = fmt.Appendf(nil, `{"w":%d,"v":%d}`, i, ev.Value)
		if s.opts.Merge {
			// Writes touch different fields, so merging shows.
			data = fmt.Appendf(nil, `{"f%d":{"w":%d,"v":%d}}`, ev.Value%3, i, ev.Value)
		}
		ts, err = n.db.Put(s.ctx, collection, key, data, nil)
	}
	if err != nil {
		s.record("  %v", domain.CodeOf(err))
		return nil
	}
	s.record("  acked %s", ts)
	if !ts.After(n.issued) {
		return &Failure{"clock", i, fmt.Sprintf("%s issued %s after %s", n.id, ts, n.issued)}
	}
	n.issued = ts
	s.res.Acked++
	s.model.ack(key, ts, ev.Del, data)
	es, err := n.disk.AuthorEntriesAfter(s.ctx, n.id, ts.Prev(), 1)
	if err != nil || len(es) == 0 || es[0].Stamp != ts {
		s.record("  committed entry not found")
		return nil
	}
	if err := s.model.genuine(es[0]); err != nil {
		return &Failure{"chain", i, err.Error()}
	}
	for _, f := range ev.Fates {
		if f.To >= len(s.nodes) || f.Lost {
			continue
		}
		to := s.nodes[f.To]
		proven, _, err := n.svc.GetChainRange(s.ctx, ports.PeerInfo{NodeID: to.id}, es[0].PrevHash, es[0].Hash)
		if err != nil || len(proven) == 0 {
			s.record("  gossip to %s not proven: %v", to.id, domain.CodeOf(err))
			continue
		}
		s.send(ev.A, f.To, s.now+int64(f.DelayMs), proven)
		if f.Dup {
			s.send(ev.A, f.To, s.now+int64(f.DelayMs/2+f.DelayMs%7), proven)
		}
	}
	return nil
}

func (s *Sim) send(from, to int, due int64, entries []domain.Entry) {
	s.sent++
	s.msgs = append(s.msgs, message{due: due, seq: s.sent, from: from, to: to, entries: entries})
}

// deliver pushes the gossip messages due by upTo, in (due, send order),
// through the network as it stands now.
func (s *Sim) deliver(upTo int64) {
	slices.SortFunc(s.msgs, func(a, b message) int {
		if a.due != b.due {
			return int(min(max(a.due-b.due, -1), 1))
		}
		return a.seq - b.seq
	})
	k := 0
	for k < len(s.msgs) && s.msgs[k].due <= upTo {
		k++
	}
	due := s.msgs[:k]
	s.msgs = slices.Clone(s.msgs[k:])
	for _, m := range due {
		from, to := s.nodes[m.from], s.nodes[m.to]
		sess, err := s.net.Dialer(from.id).Dial(s.ctx, to.addr)
		if err != nil {
			s.record("  msg%d %s→%s lost: %v", m.seq, from.id, to.id, domain.CodeOf(err))
			continue
		}
		snap, err := sess.PushChanges(s.ctx, m.entries)
		sess.Close()
		s.record("  msg%d %s→%s %s snap=%v %v", m.seq, from.id, to.id, entriesString(m.entries), snap, domain.CodeOf(err))
		if err == nil {
			s.res.Delivered++
		}
	}
}

// round runs one anti-entropy round of a with b, the engine's own code.
func (s *Sim) round(a, b *node, salt uint64, lossy bool) {
	if !a.up {
		s.record("  down")
		return
	}
	a.peers.peer = domain.Peer{NodeID: b.id, Address: b.addr, Source: domain.PeerStatic}
	a.dialer.salt, a.dialer.lossy = salt, lossy
	snaps := a.engine.Stats().Snapshots
	err := a.engine.SyncNow(s.ctx)
	a.holesOK = a.holesOK || a.engine.Stats().Snapshots > snaps
	for _, line := range a.dialer.takeTrace() {
		s.record("  %s", line)
	}
	// As the engine's loop does after each round.
	if err := a.clocks.Save(s.ctx); err != nil {
		s.record("  peer clocks not saved: %v", domain.CodeOf(err))
	}
	s.record("  round %s→%s: %v", a.id, b.id, domain.CodeOf(err))
}

// quiesce stops the faults, lets every message in flight arrive, runs
// passes of rounds between every pair until the replicas agree (at most
// ConvergeBound), then checks the invariants.
func (s *Sim) quiesce() *Failure {
	s.record("quiesce")
	s.heal()
	for _, n := range s.nodes {
		n.disk.refuse, n.skew = false, 0
		if !n.up {
			if err := n.start(s); err != nil {
				return &Failure{"setup", -1, "restart: " + err.Error()}
			}
		}
	}
	// Entries stamped by a clock skewed ahead are refused until our time
	// catches up with them: let it.
	s.now += 3 * s.opts.MaxDriftMs
	s.deliver(s.now)
	for pass := 1; pass <= s.opts.ConvergeBound; pass++ {
		for _, a := range s.nodes {
			for _, b := range s.nodes {
				if a != b {
					s.round(a, b, 0, false)
				}
			}
		}
		s.res.Passes = pass
		if ok, _ := s.converged(); ok {
			break
		}
	}
	return s.checkInvariants()
}

// restore replaces a node's store with its backup, as `entgldb restore`
// does, and starts it under a new node id (ForgetNodeID: writing again
// under the old one would fork its chain). Its writes since the backup
// that no other node holds may be lost with it: the model accepts either.
func (s *Sim) restore(i int, n *node) *Failure {
	if n.backup == nil {
		s.record("  no backup")
		return nil
	}
	if n.up {
		if err := n.crash(s); err != nil {
			return &Failure{"setup", i, "crash: " + err.Error()}
		}
	}
	old := n.id
	backed := n.backup.vc
	for _, ws := range s.model.writes {
		for _, w := range ws {
			if w.ts.Node != old || !w.ts.After(backed[old]) {
				continue
			}
			held := false
			for _, m := range s.nodes {
				if m == n {
					continue
				}
				vc, err := m.disk.VectorClock(s.ctx)
				if err != nil {
					return &Failure{"setup", i, err.Error()}
				}
				held = held || !vc[old].Before(w.ts)
			}
			if !held {
				s.model.maybeLost[w.ts] = true
			}
		}
	}
	b, err := s.media.restore(s.ctx, n.id, n.backup)
	if err != nil {
		return &Failure{"setup", i, "restore: " + err.Error()}
	}
	n.disk = &disk{backend: b}
	n.gen++
	// The identity key file lives beside the database, not in it: the
	// node keeps its key under its new id.
	n.id = fmt.Sprintf("n%dr%d", n.index, n.gen)
	n.issued = domain.Timestamp{}
	if err := n.start(s); err != nil {
		return &Failure{"setup", i, "restore: " + err.Error()}
	}
	s.record("  restored as %s", n.id)
	return nil
}
