package sqlite

import (
	"sync"

	"github.com/entgldb/entgldb-go/domain"
)

// pendingMaxDocs and pendingMaxBytes bound the pending set: the write that
// reaches either materializes, so a crash replays little at Open and the
// set's memory stays small.
const (
	pendingMaxDocs  = 256
	pendingMaxBytes = 1 << 20
)

type head struct {
	wall  int64
	logic int32
	hash  string
	// link is the content link of the head entry once linkKnown (nil:
	// the entry has none, or is not held); local commits chain from it.
	link      []byte
	linkKnown bool
}

func (h head) before(wall int64, logic int32) bool {
	return h.wall < wall || h.wall == wall && h.logic < logic
}

type docKey struct{ collection, key string }

// state is what the store keeps in memory beside the file. Writers change it
// only while holding wmu, after their transaction committed; readers take
// mu.
type state struct {
	// wmu serializes the write transactions that touch the oplog,
	// documents or clock, with the in-memory updates after each commit.
	wmu sync.Mutex

	mu           sync.RWMutex
	pending      map[docKey]domain.Document
	pendingBytes int
	heads        map[string]head
	dirty        map[string]bool // heads newer than their vclock row
	lastSeq      int64           // greatest seq committed
}

func (st *state) init() {
	st.pending = map[docKey]domain.Document{}
	st.heads = map[string]head{}
	st.dirty = map[string]bool{}
}

// addPendingLocked keeps the newest document per key.
func addPendingLocked(st *state, d domain.Document) {
	k := docKey{d.Collection, d.Key}
	if cur, ok := st.pending[k]; ok {
		if !d.Stamp.After(cur.Stamp) {
			return
		}
		st.pendingBytes -= len(cur.Data)
	}
	st.pending[k] = d
	st.pendingBytes += len(d.Data)
}

func (st *state) pendingFull() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.pending) >= pendingMaxDocs || st.pendingBytes >= pendingMaxBytes
}

func (st *state) hasPending() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.pending) > 0 || len(st.dirty) > 0
}

// pendingDocument returns the pending document of a key.
func (st *state) pendingDocument(collection, key string) (domain.Document, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	d, ok := st.pending[docKey{collection, key}]
	return d, ok
}
