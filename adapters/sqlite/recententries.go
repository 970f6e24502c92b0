package sqlite

import (
	"sync"

	"github.com/entgldb/entgldb-go/domain"
)

// recentEntries remembers the seq and link of the last entry of each author
// in what the oplog reads returned. Proving a page to a peer asks for the
// link before each author's run (LinkOf of the run's first PrevHash: the
// author's last entry in the page before) and keeps a proof on the run's
// last entry (SetProof), both by hash, and the oplog has no index by hash
// (it would cost every write a page at a random place): without this, each
// page of a bootstrap would scan the oplog back to where the page starts.
// A stored link never changes; Prune forgets everything.
type recentEntries struct {
	mu sync.Mutex
	m  map[string]recentEntry // by hash
}

type recentEntry struct {
	seq  int64
	link []byte
}

// recentMax bounds the entries remembered; past it the map starts over.
const recentMax = 4096

// remember keeps the last entry of each author in entries.
func (r *recentEntries) remember(entries []domain.Entry) {
	if len(entries) == 0 {
		return
	}
	seen := make(map[string]bool, 4)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= recentMax {
		r.m = make(map[string]recentEntry)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := &entries[i]
		if seen[e.Stamp.Node] || e.Hash == "" {
			continue
		}
		seen[e.Stamp.Node] = true
		r.m[e.Hash] = recentEntry{seq: e.Seq, link: e.Link}
	}
}

func (r *recentEntries) lookup(hash string) (recentEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[hash]
	return e, ok
}

func (r *recentEntries) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m = nil
}
