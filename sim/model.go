package sim

import (
	"crypto/sha256"

	"github.com/entgldb/entgldb-go/domain"
)

// model is the reference the replicas are checked against: the newest
// acknowledged write of every key (last write wins by full stamp), and every
// entry an honest node committed.
type model struct {
	latest map[string]ackedWrite
	// honest maps the hash of every entry an honest node committed to the
	// digest of its document: an entry held anywhere must be one of them.
	honest map[string][32]byte
}

type ackedWrite struct {
	ts   domain.Timestamp
	del  bool
	data []byte
}

func newModel() *model {
	return &model{latest: map[string]ackedWrite{}, honest: map[string][32]byte{}}
}

func (m *model) ack(key string, ts domain.Timestamp, del bool, data []byte) {
	if w, ok := m.latest[key]; !ok || ts.After(w.ts) {
		m.latest[key] = ackedWrite{ts, del, data}
	}
}

func (m *model) genuine(e domain.Entry) { m.honest[e.Hash] = sha256.Sum256(e.Data) }
