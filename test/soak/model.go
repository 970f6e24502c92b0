package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// state is one possible final state of a key: present with data (and the
// version the node acknowledged, when known) or absent.
type state struct {
	present bool
	data    []byte // compact JSON as written
	version string // "" when the write was never acknowledged
}

func (s state) String() string {
	if !s.present {
		return "absent"
	}
	v := s.version
	if v == "" {
		v = "unacked"
	}
	return fmt.Sprintf("%s@%s", s.data, v)
}

// keyModel is what the soak knows about one key. Each key has exactly one
// writer (one worker, one node, one request at a time), so the last
// acknowledged write is unambiguous. A write that failed in a way that
// leaves its effect unknown (connection reset, timeout, 5xx) adds a
// candidate instead: the final state is then any of them, until the next
// acknowledged write settles it again.
type keyModel struct {
	collection, key string
	candidates      []state // never empty: starts as [absent]
	ackedWrites     int
}

func newKeyModel(collection, key string) *keyModel {
	return &keyModel{collection: collection, key: key, candidates: []state{{}}}
}

// certain reports whether exactly one final state is possible.
func (k *keyModel) certain() bool { return len(k.candidates) == 1 }

// current is the settled state (only meaningful when certain).
func (k *keyModel) current() state { return k.candidates[len(k.candidates)-1] }

// ack records an acknowledged write.
func (k *keyModel) ack(s state) {
	k.candidates = []state{s}
	k.ackedWrites++
}

// maybe records a write whose effect is unknown.
func (k *keyModel) maybe(s state) {
	if len(k.candidates) < 64 { // bounded; beyond that the key is simply very uncertain
		k.candidates = append(k.candidates, s)
	}
}

// matches reports whether an observed state (present, data, version) is
// one of the candidates. Versions are compared when the candidate has one.
func (k *keyModel) matches(present bool, data []byte, version string) bool {
	for _, c := range k.candidates {
		if c.present != present {
			continue
		}
		if !present {
			return true
		}
		if c.version != "" && c.version != version {
			continue
		}
		if sameJSON(c.data, data) {
			return true
		}
	}
	return false
}

func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
