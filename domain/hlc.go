package domain

import (
	"math"
	"strconv"
	"strings"
	"sync"
)

// Timestamp is a hybrid logical clock reading: wall-clock milliseconds since
// the Unix epoch, a logical counter for events within one millisecond, and
// the id of the node that made it. Its String form is a document's version.
type Timestamp struct {
	Wall    int64
	Logical int32
	Node    string
}

// Compare orders timestamps by wall, then logical, then node id in byte
// order: -1 when t < o, 0 when equal, +1 when t > o. Every node sorts the
// same way, so "the newer write" means the same thing everywhere.
func (t Timestamp) Compare(o Timestamp) int {
	switch {
	case t.Wall < o.Wall:
		return -1
	case t.Wall > o.Wall:
		return 1
	case t.Logical < o.Logical:
		return -1
	case t.Logical > o.Logical:
		return 1
	}
	return strings.Compare(t.Node, o.Node)
}

// After reports whether t is strictly newer than o.
func (t Timestamp) After(o Timestamp) bool { return t.Compare(o) > 0 }

// Before reports whether t is strictly older than o.
func (t Timestamp) Before(o Timestamp) bool { return t.Compare(o) < 0 }

// IsZero reports whether t is the zero timestamp (no event yet).
func (t Timestamp) IsZero() bool { return t.Wall == 0 && t.Logical == 0 && t.Node == "" }

// String renders t as "wall:logic:node", the form hashed by the oplog chain
// and used as a document version.
func (t Timestamp) String() string {
	var b strings.Builder
	b.Grow(24 + len(t.Node))
	b.WriteString(strconv.FormatInt(t.Wall, 10))
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(int64(t.Logical), 10))
	b.WriteByte(':')
	b.WriteString(t.Node)
	return b.String()
}

// ParseTimestamp parses the String form. The node id may itself contain ':'
// (everything after the second colon belongs to it).
func ParseTimestamp(s string) (Timestamp, error) {
	const op = "domain.ParseTimestamp"
	first := strings.IndexByte(s, ':')
	if first <= 0 {
		return Timestamp{}, Errorf(CodeInvalidArgument, op, "version %q is not of the form wall:logic:node", s)
	}
	rest := s[first+1:]
	second := strings.IndexByte(rest, ':')
	if second <= 0 {
		return Timestamp{}, Errorf(CodeInvalidArgument, op, "version %q is not of the form wall:logic:node", s)
	}
	wall, err := strconv.ParseInt(s[:first], 10, 64)
	if err != nil || wall < 0 {
		return Timestamp{}, Errorf(CodeInvalidArgument, op, "version %q has a bad wall time", s)
	}
	logical, err := strconv.ParseInt(rest[:second], 10, 32)
	if err != nil || logical < 0 {
		return Timestamp{}, Errorf(CodeInvalidArgument, op, "version %q has a bad logical counter", s)
	}
	return Timestamp{Wall: wall, Logical: int32(logical), Node: rest[second+1:]}, nil
}

// Clock is a hybrid logical clock for one node. It is safe for concurrent use.
// The physical clock is injected (milliseconds since the epoch) so the rules
// can be tested without real time.
type Clock struct {
	mu       sync.Mutex
	node     string
	physical func() int64
	maxDrift int64 // ms; <= 0 disables the check
	last     Timestamp
}

// NewClock returns a clock for node. maxDriftMs bounds how far ahead of our
// physical time a remote wall may be before Update rejects it.
func NewClock(node string, physical func() int64, maxDriftMs int64) *Clock {
	return &Clock{node: node, physical: physical, maxDrift: maxDriftMs}
}

// Node returns the id stamped on this clock's readings.
func (c *Clock) Node() string { return c.node }

// Now returns a new timestamp strictly greater than every one this clock has
// issued or observed: wall = max(physical, last wall); the logical counter
// resets when the wall advances and increments otherwise.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := c.physical()
	if pt > c.last.Wall {
		c.last = Timestamp{Wall: pt, Logical: 0, Node: c.node}
	} else {
		c.last = bump(c.last.Wall, c.last.Logical, c.node)
	}
	return c.last
}

// Update folds a remote timestamp into the clock with the standard HLC
// receive rule and returns the new local reading. A remote wall more than
// maxDrift ahead of our physical time is rejected with CLOCK_DRIFT and leaves
// the clock untouched: one peer with a broken clock must not drag us all into
// the future.
func (c *Clock) Update(remote Timestamp) (Timestamp, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := c.physical()
	if c.maxDrift > 0 && remote.Wall-pt > c.maxDrift {
		return c.last, Errorf(CodeClockDrift, "hlc.Update",
			"remote clock %s is %d ms ahead of local time (limit %d ms)", remote, remote.Wall-pt, c.maxDrift)
	}
	wall := max(pt, c.last.Wall, remote.Wall)
	switch {
	case wall == c.last.Wall && wall == remote.Wall:
		c.last = bump(wall, max(c.last.Logical, remote.Logical), c.node)
	case wall == c.last.Wall:
		c.last = bump(wall, c.last.Logical, c.node)
	case wall == remote.Wall:
		c.last = bump(wall, remote.Logical, c.node)
	default:
		c.last = Timestamp{Wall: wall, Logical: 0, Node: c.node}
	}
	return c.last, nil
}

// CheckDrift reports CLOCK_DRIFT for a remote stamp too far in the future,
// without touching the clock.
func (c *Clock) CheckDrift(remote Timestamp) error {
	if c.maxDrift > 0 && remote.Wall-c.physical() > c.maxDrift {
		return Errorf(CodeClockDrift, "hlc.CheckDrift",
			"remote clock %s is more than %d ms ahead of local time", remote, c.maxDrift)
	}
	return nil
}

// Restore moves the clock forward to at least ts (the newest stamp found in
// storage at start-up), so it never issues a stamp older than one it issued
// before a restart. It never moves the clock backwards.
func (c *Clock) Restore(ts Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts.Wall > c.last.Wall || (ts.Wall == c.last.Wall && ts.Logical > c.last.Logical) {
		c.last = Timestamp{Wall: ts.Wall, Logical: ts.Logical, Node: c.node}
	}
}

// Last returns the newest timestamp issued or observed.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// bump increments the logical counter; on overflow the wall moves one
// millisecond ahead instead, which keeps timestamps strictly increasing.
func bump(wall int64, logical int32, node string) Timestamp {
	if logical == math.MaxInt32 {
		return Timestamp{Wall: wall + 1, Logical: 0, Node: node}
	}
	return Timestamp{Wall: wall, Logical: logical + 1, Node: node}
}
