package domain

import "sort"

// VectorClock maps each author (node id) to the newest stamp held from it.
type VectorClock map[string]Timestamp

// Ordering is the result of comparing two vector clocks.
type Ordering int

const (
	Equal Ordering = iota
	Ahead
	Behind
	Concurrent
)

func (o Ordering) String() string {
	return [...]string{"Equal", "Ahead", "Behind", "Concurrent"}[o]
}

// Observe records ts as seen from its author if it is newer than what we had.
func (v VectorClock) Observe(ts Timestamp) {
	if cur, ok := v[ts.Node]; !ok || ts.After(cur) {
		v[ts.Node] = ts
	}
}

// Clone returns an independent copy.
func (v VectorClock) Clone() VectorClock {
	c := make(VectorClock, len(v))
	for k, ts := range v {
		c[k] = ts
	}
	return c
}

// Compare tells whether v is Equal to, Ahead of, Behind, or Concurrent with o.
// An author missing from one side counts as the zero stamp there.
func (v VectorClock) Compare(o VectorClock) Ordering {
	ahead, behind := false, false
	for author, ts := range v {
		if c := ts.Compare(o[author]); c > 0 {
			ahead = true
		} else if c < 0 {
			behind = true
		}
	}
	for author, ts := range o {
		if _, ok := v[author]; !ok && !ts.IsZero() {
			behind = true
		}
	}
	switch {
	case ahead && behind:
		return Concurrent
	case ahead:
		return Ahead
	case behind:
		return Behind
	}
	return Equal
}

// Delta lists, in sorted order, the authors for which o (the peer) holds
// newer entries than v (pull) and those for which v holds newer entries
// than o (push).
func (v VectorClock) Delta(o VectorClock) (pull, push []string) {
	for author, ts := range o {
		if ts.After(v[author]) && !(Planted(BugVectorClockOffByOne) && oneTickAhead(ts, v[author])) {
			pull = append(pull, author)
		}
	}
	for author, ts := range v {
		if ts.After(o[author]) && !(Planted(BugVectorClockOffByOne) && oneTickAhead(ts, o[author])) {
			push = append(push, author)
		}
	}
	sort.Strings(pull)
	sort.Strings(push)
	return pull, push
}

// Max returns the newest stamp over all authors (zero when empty).
func (v VectorClock) Max() Timestamp {
	var m Timestamp
	for _, ts := range v {
		if ts.After(m) {
			m = ts
		}
	}
	return m
}

// Normalize returns a copy of a peer's vector clock with every stamp's node
// set to its author (the wire carries the author once, as the map key) and
// without the authors whose id ValidateNodeID refuses: every entry of
// theirs would be refused, so there is nothing to ask the peer for.
func (v VectorClock) Normalize() VectorClock {
	out := make(VectorClock, len(v))
	for author, ts := range v {
		if ValidateNodeID(author) != nil {
			continue
		}
		ts.Node = author
		out[author] = ts
	}
	return out
}

// oneTickAhead is what BugVectorClockOffByOne takes as even: one logical
// tick ahead in the same millisecond.
func oneTickAhead(ahead, behind Timestamp) bool {
	return ahead.Wall == behind.Wall && ahead.Logical == behind.Logical+1
}
