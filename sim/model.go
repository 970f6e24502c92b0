package sim

import (
	"crypto/sha256"
	"fmt"

	"github.com/entgldb/entgldb-go/domain"
)

// model is the reference the replicas are checked against: the newest
// acknowledged write of every key (last write wins by full stamp), and every
// entry an honest node committed.
type model struct {
	// writes holds every acknowledged write, by key.
	writes map[string][]ackedWrite
	// maybeLost are the writes that, when their node was restored from a
	// backup, no other node held: they may be gone with it.
	maybeLost map[domain.Timestamp]bool
	// honest maps the hash of every entry an honest node committed to the
	// digest of its document: an entry held anywhere must be one of them.
	honest map[string][32]byte
	// pos places every honest entry in its author's chain; last is each
	// author's newest committed entry.
	pos  map[string]chainPos
	last map[string]string
}

type chainPos struct {
	index int
	stamp domain.Timestamp
}

type ackedWrite struct {
	ts   domain.Timestamp
	del  bool
	data []byte
}

func newModel() *model {
	return &model{writes: map[string][]ackedWrite{}, maybeLost: map[domain.Timestamp]bool{}, honest: map[string][32]byte{}, pos: map[string]chainPos{},
		last: map[string]string{}}
}

func (m *model) ack(key string, ts domain.Timestamp, del bool, data []byte) {
	m.writes[key] = append(m.writes[key], ackedWrite{ts, del, data})
}

// expected returns the newest write of key certainly kept (ok false when
// none is), and the writes that may be lost and are newer than it: a
// replica must show the first, or one of the others.
func (m *model) expected(key string) (kept ackedWrite, ok bool, lost []ackedWrite) {
	for _, w := range m.writes[key] {
		if !m.maybeLost[w.ts] && (!ok || w.ts.After(kept.ts)) {
			kept, ok = w, true
		}
	}
	for _, w := range m.writes[key] {
		if m.maybeLost[w.ts] && (!ok || w.ts.After(kept.ts)) {
			lost = append(lost, w)
		}
	}
	return kept, ok, lost
}

// genuine records an entry an honest node committed; it reports a fork
// when the entry does not continue its author's chain.
func (m *model) genuine(e domain.Entry) error {
	a := e.Author()
	if e.PrevHash != m.last[a] {
		return fmt.Errorf("%s forked its chain: %s links to %.8s, its newest entry is %.8s", a, e.Stamp, e.PrevHash, m.last[a])
	}
	m.honest[e.Hash] = sha256.Sum256(e.Data)
	m.pos[e.Hash] = chainPos{index: len(m.pos), stamp: e.Stamp}
	m.last[a] = e.Hash
	return nil
}
