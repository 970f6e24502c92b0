package memory

import (
	"bytes"
	"maps"

	"github.com/entgldb/entgldb-go/domain"
)

// Clone returns a consistent copy of the store, as an online backup of a
// database file is: later writes to either do not reach the other.
func (s *Store) Clone() *Store {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := New()
	c.now, c.closed, c.seq = s.now, s.closed, s.seq
	for coll, docs := range s.docs {
		m := make(map[string]domain.Document, len(docs))
		for k, d := range docs {
			m[k] = cloneDoc(d)
		}
		c.docs[coll] = m
	}
	log := make([]domain.Entry, len(s.log))
	for i, e := range s.log {
		log[i] = cloneEntry(e)
	}
	c.replaceLog(log)
	c.ids = maps.Clone(s.ids)
	c.vclock = s.vclock.Clone()
	c.heads = maps.Clone(s.heads)
	if s.boundaryLinks != nil {
		c.boundaryLinks = make(map[string][]byte, len(s.boundaryLinks))
		for h, l := range s.boundaryLinks {
			c.boundaryLinks[h] = bytes.Clone(l)
		}
	}
	for h, b := range s.bridges {
		if c.bridges == nil {
			c.bridges = make(map[string][][]byte, len(s.bridges))
		}
		c.bridges[h] = cloneDigests(b)
	}
	c.meta = maps.Clone(s.meta)
	for id, p := range s.peers {
		c.peers[id] = clonePeer(p)
	}
	if s.peerKeys != nil {
		c.peerKeys = make(map[string][]byte, len(s.peerKeys))
		for id, k := range s.peerKeys {
			c.peerKeys[id] = bytes.Clone(k)
		}
	}
	return c
}
