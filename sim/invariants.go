package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
)

// stateDigest digests a replica's documents (tombstones included), vector
// clock and heads: equal digests, equal replicas.
func (s *Sim) stateDigest(n *node) (string, error) {
	snap, err := n.disk.Snapshot(s.ctx)
	if err != nil {
		return "", err
	}
	docs := snap.Documents
	slices.SortFunc(docs, func(a, b domain.Document) int {
		if a.Collection != b.Collection {
			return cmpStr(a.Collection, b.Collection)
		}
		return cmpStr(a.Key, b.Key)
	})
	h := sha256.New()
	for _, d := range docs {
		fmt.Fprintf(h, "%s/%s %s %v %s\n", d.Collection, d.Key, d.Stamp, d.Deleted, d.Data)
	}
	fmt.Fprintf(h, "vc %s\n", vcString(snap.VectorClock))
	authors := make([]string, 0, len(snap.Heads))
	for a := range snap.Heads {
		authors = append(authors, a)
	}
	slices.Sort(authors)
	for _, a := range authors {
		fmt.Fprintf(h, "head %s %s\n", a, snap.Heads[a])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// converged says whether every replica's state digest is the same, and
// names the first that differs from the first node's.
func (s *Sim) converged() (bool, string) {
	want, err := s.stateDigest(s.nodes[0])
	if err != nil {
		return false, err.Error()
	}
	for _, n := range s.nodes[1:] {
		got, err := s.stateDigest(n)
		if err != nil {
			return false, err.Error()
		}
		if got != want {
			return false, s.difference(s.nodes[0], n)
		}
	}
	return true, ""
}

// difference names the first thing two replicas disagree on.
func (s *Sim) difference(a, b *node) string {
	sa, err1 := a.disk.Snapshot(s.ctx)
	sb, err2 := b.disk.Snapshot(s.ctx)
	if err1 != nil || err2 != nil {
		return fmt.Sprint(err1, err2)
	}
	if va, vb := vcString(sa.VectorClock), vcString(sb.VectorClock); va != vb {
		return fmt.Sprintf("vector clocks differ: %s %s, %s %s", a.id, va, b.id, vb)
	}
	docs := map[string]domain.Document{}
	for _, d := range sa.Documents {
		docs[d.Key] = d
	}
	slices.SortFunc(sb.Documents, func(x, y domain.Document) int { return cmpStr(x.Key, y.Key) })
	for _, d := range sb.Documents {
		if o := docs[d.Key]; o.Stamp != d.Stamp || o.Deleted != d.Deleted {
			return fmt.Sprintf("%s: %s holds %s (deleted=%v), %s holds %s (deleted=%v)", d.Key, a.id, o.Stamp, o.Deleted,
				b.id, d.Stamp, d.Deleted)
		}
	}
	if len(sa.Documents) != len(sb.Documents) {
		return fmt.Sprintf("%s holds %d document rows, %s %d", a.id, len(sa.Documents), b.id, len(sb.Documents))
	}
	return fmt.Sprintf("%s and %s differ in documents or heads", a.id, b.id)
}

// checkInvariants checks the replicas at quiescence.
func (s *Sim) checkInvariants() *Failure {
	for _, n := range s.nodes {
		if f := s.checkHonest(n); f != nil {
			return f
		}
		if f := s.checkChains(n); f != nil {
			return f
		}
	}
	if ok, why := s.converged(); !ok {
		return &Failure{"converge", -1, fmt.Sprintf("not converged after %d passes: %s", s.opts.ConvergeBound, why)}
	}
	for _, n := range s.nodes {
		d, err := s.stateDigest(n)
		if err != nil {
			return &Failure{"setup", -1, err.Error()}
		}
		s.record("final %s %s", n.id, d)
	}
	return s.checkLWW(s.nodes[0])
}

// checkHonest fails on any entry held that no honest node committed as it
// is (a forged entry, or a genuine one with altered content).
func (s *Sim) checkHonest(n *node) *Failure {
	es, err := n.disk.EntriesSinceSeq(s.ctx, 0, 0)
	if err != nil {
		return &Failure{"setup", -1, err.Error()}
	}
	for i := range es {
		e := &es[i]
		want, ok := s.model.honest[e.Hash]
		if !ok || want != sha256.Sum256(e.Data) {
			return &Failure{"forged", -1, fmt.Sprintf("%s holds entry %s %s/%s %s that no honest node committed",
				n.id, e.Stamp, e.Collection, e.Key, e.Data)}
		}
	}
	return nil
}

// checkChains verifies every author's chain a node holds, from the first
// entry, against its vector clock and heads.
func (s *Sim) checkChains(n *node) *Failure {
	vc, err := n.disk.VectorClock(s.ctx)
	if err != nil {
		return &Failure{"setup", -1, err.Error()}
	}
	heads, err := n.disk.Heads(s.ctx)
	if err != nil {
		return &Failure{"setup", -1, err.Error()}
	}
	authors := make([]string, 0, len(vc))
	for a := range vc {
		authors = append(authors, a)
	}
	slices.Sort(authors)
	for _, author := range authors {
		ts := vc[author]
		es, err := n.disk.AuthorEntriesAfter(s.ctx, author, domain.Timestamp{}, math.MaxInt32)
		if err != nil {
			return &Failure{"setup", -1, err.Error()}
		}
		if p, ok := s.model.pos[heads[author]]; !ok || p.stamp != ts {
			return &Failure{"chain", -1, fmt.Sprintf("%s: head %.8s of %s is not its entry at the vector clock's %s",
				n.id, heads[author], author, ts)}
		}
		if !n.holesOK {
			// Nothing compacted, no snapshot taken: the whole chain is here.
			if k := domain.VerifyChain("", es); k >= 0 {
				return &Failure{"chain", -1, fmt.Sprintf("%s: chain of %s breaks at its entry %d (%s)", n.id, author, k, es[k].Stamp)}
			}
			if len(es) == 0 || es[len(es)-1].Hash != heads[author] {
				return &Failure{"chain", -1, fmt.Sprintf("%s: chain of %s (%d entries) does not end at its head", n.id, author, len(es))}
			}
			continue
		}
		// Compaction leaves holes: what is held must still be in chain order.
		prev := -1
		for k := range es {
			if !es[k].VerifyHash() {
				return &Failure{"chain", -1, fmt.Sprintf("%s: entry %s of %s does not match its hash", n.id, es[k].Stamp, author)}
			}
			if p, ok := s.model.pos[es[k].Hash]; ok {
				if p.index <= prev {
					return &Failure{"chain", -1, fmt.Sprintf("%s: entries of %s out of chain order at %s", n.id, author, es[k].Stamp)}
				}
				prev = p.index
			}
		}
	}
	return nil
}

// checkLWW compares a replica with the model: each key shows its newest
// acknowledged write (no acknowledged write lost unless superseded), and no
// key the model does not know is live.
func (s *Sim) checkLWW(n *node) *Failure {
	snap, err := n.disk.Snapshot(s.ctx)
	if err != nil {
		return &Failure{"setup", -1, err.Error()}
	}
	held := map[string]domain.Document{}
	for _, d := range snap.Documents {
		held[d.Key] = d
	}
	keys := make([]string, 0, len(s.model.writes))
	for k := range s.model.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	shows := func(d domain.Document, w ackedWrite) bool {
		return d.Stamp == w.ts && d.Deleted == w.del && (w.del || bytes.Equal(d.Data, w.data))
	}
	for _, k := range keys {
		if s.opts.Merge {
			if f := s.checkMerged(n, k, held); f != nil {
				return f
			}
			continue
		}
		w, ok, lost := s.model.expected(k)
		d, held := held[k]
		fine := held && ok && shows(d, w) || !held && !ok
		for _, l := range lost {
			fine = fine || held && shows(d, l)
		}
		switch {
		case fine:
		case !held:
			return &Failure{"lww", -1, fmt.Sprintf("%s lost %s: acknowledged write %s missing", n.id, k, w.ts)}
		default:
			return &Failure{"lww", -1, fmt.Sprintf("%s holds %s at %s (deleted=%v %s), the newest acknowledged write is %s (deleted=%v %s)",
				n.id, k, d.Stamp, d.Deleted, d.Data, w.ts, w.del, w.data)}
		}
	}
	for _, d := range snap.Documents { // sorted by stateDigest
		if _, ok := s.model.writes[d.Key]; !ok && !d.Deleted {
			return &Failure{"lww", -1, fmt.Sprintf("%s holds %s, which no acknowledged write made", n.id, d.Key)}
		}
	}
	return nil
}

// checkMerged compares key's document with every acknowledged write of it
// replayed in stamp order through the recursive merge: the state the set
// of writes makes, whatever order they arrived in.
func (s *Sim) checkMerged(n *node, key string, held map[string]domain.Document) *Failure {
	var entries []domain.Entry
	for _, w := range s.model.writes[key] {
		e := domain.Entry{Collection: collection, Key: key, Op: domain.OpPut, Data: w.data, Stamp: w.ts}
		if w.del {
			e.Op, e.Data = domain.OpDelete, nil
		}
		entries = append(entries, e)
	}
	want := domain.Replay(domain.RecursiveMerge{}, entries)
	d, ok := held[key]
	switch {
	case want == nil && !ok:
		return nil
	case want == nil || !ok:
		return &Failure{"merge", -1, fmt.Sprintf("%s: %s held=%v, the model has it=%v", n.id, key, ok, want != nil)}
	case d.Stamp != want.Stamp || d.Deleted != want.Deleted || !d.Deleted && !bytes.Equal(d.Data, want.Data):
		return &Failure{"merge", -1, fmt.Sprintf("%s holds %s at %s (deleted=%v %s), the writes replayed make %s (deleted=%v %s)",
			n.id, key, d.Stamp, d.Deleted, d.Data, want.Stamp, want.Deleted, want.Data)}
	}
	return nil
}
