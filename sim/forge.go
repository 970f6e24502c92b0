package sim

import (
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// forgerID is the node id the forger's sessions present.
const forgerID = "forger"

// The kinds of forgery (Event.Value of KindForge).
const (
	forgeUnproven  = iota // a new entry in an honest node's name, continuing the target's chain, unsigned
	forgeTampered         // an honest run the target lacks, its last document altered (proof kept)
	forgeBadHash          // an honest run the target lacks, an entry's hash altered
	forgeRestamped        // an honest run the target lacks, its last entry restamped and resealed
	forgeKinds
)

// forge pushes invalid entries to target, built from what the honest nodes
// hold now; the checks at quiescence fail if any of them was applied.
func (s *Sim) forge(target *node, kind int) {
	if !target.up {
		s.record("  down")
		return
	}
	var entries []domain.Entry
	if kind == forgeUnproven {
		entries = s.forgeUnproven(target)
	} else {
		entries = s.honestRun(target)
		if len(entries) == 0 {
			s.record("  nothing to forge from")
			return
		}
		last := &entries[len(entries)-1]
		switch kind {
		case forgeTampered:
			last.Data = []byte(`{"forged":true}`)
		case forgeBadHash:
			entries[0].Hash = domain.ComputeHash("x", "y", domain.OpPut, entries[0].Stamp, entries[0].PrevHash)
		case forgeRestamped:
			last.Stamp.Wall++
			last.Seal(last.PrevHash)
		}
	}
	sess, err := s.net.Dialer(forgerID).Dial(s.ctx, target.addr)
	if err != nil {
		s.record("  forge to %s: %v", target.id, domain.CodeOf(err))
		return
	}
	defer sess.Close()
	_, err = sess.PushChanges(s.ctx, entries)
	s.record("  forge %d to %s %s: %v", kind, target.id, entriesString(entries), domain.CodeOf(err))
}

// forgeUnproven makes an entry in the name of an honest author (the target
// itself included) that continues the chain the target holds of it.
func (s *Sim) forgeUnproven(target *node) []domain.Entry {
	author := s.nodes[int(s.now)%len(s.nodes)].id
	vc, err1 := target.disk.VectorClock(s.ctx)
	heads, err2 := target.disk.Heads(s.ctx)
	if err1 != nil || err2 != nil {
		return nil
	}
	ts := domain.Timestamp{Wall: max(s.now, vc[author].Wall+1), Node: author}
	e := domain.Entry{Collection: collection, Key: "k0", Op: domain.OpPut, Data: []byte(`{"forged":true}`), Stamp: ts}
	e.Seal(heads[author])
	return []domain.Entry{e}
}

// honestRun finds, in node order, a node holding entries of an author the
// target lacks, and returns them proven as that node serves them.
func (s *Sim) honestRun(target *node) []domain.Entry {
	tvc, err1 := target.disk.VectorClock(s.ctx)
	theads, err2 := target.disk.Heads(s.ctx)
	if err1 != nil || err2 != nil {
		return nil
	}
	for _, n := range s.nodes {
		if n == target || !n.up {
			continue
		}
		vc, err1 := n.disk.VectorClock(s.ctx)
		heads, err2 := n.disk.Heads(s.ctx)
		if err1 != nil || err2 != nil {
			continue
		}
		authors := make([]string, 0, len(vc))
		for a := range vc {
			authors = append(authors, a)
		}
		slices.Sort(authors)
		for _, a := range authors {
			if !vc[a].After(tvc[a]) {
				continue
			}
			es, snap, err := n.svc.GetChainRange(s.ctx, ports.PeerInfo{NodeID: forgerID}, theads[a], heads[a])
			if err == nil && !snap && len(es) > 0 {
				return es
			}
		}
	}
	return nil
}
