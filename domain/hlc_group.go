package domain

import "math"

// A (wall, logic) group is every stamp sharing wall and logical counter,
// whatever its node. The sync protocol pages by group: both reference
// implementations ignore the node of a "since" stamp, so a page never cuts
// a group and a cursor never lands inside one.

// groupCeilingNode sorts after every real node id (0xFF never appears in
// UTF-8), so a stamp with it is at or after every stamp of its group.
const groupCeilingNode = "\xff\xff\xff\xff"

// GroupAfter reports whether t's (wall, logic) group is after o's (nodes
// ignored).
func (t Timestamp) GroupAfter(o Timestamp) bool {
	return t.Wall > o.Wall || t.Wall == o.Wall && t.Logical > o.Logical
}

// GroupCeiling makes "strictly after t's group" out of t: every stamp of
// t's group is at or before the result, every later group after it. The
// zero stamp stays zero (nothing held: everything is after it).
func (t Timestamp) GroupCeiling() Timestamp {
	if t.Wall == 0 && t.Logical == 0 {
		return Timestamp{}
	}
	return Timestamp{Wall: t.Wall, Logical: t.Logical, Node: groupCeilingNode}
}

// BeforeGroup is a bound just before t's group, so that "strictly after"
// it (node ignored or not) includes that whole group.
func (t Timestamp) BeforeGroup() Timestamp {
	switch {
	case t.Logical > 0:
		return Timestamp{Wall: t.Wall, Logical: t.Logical - 1}.GroupCeiling()
	case t.Wall > 0:
		return Timestamp{Wall: t.Wall - 1, Logical: math.MaxInt32}.GroupCeiling()
	}
	return Timestamp{}
}

// Prev is the greatest stamp of t's node strictly before t, so that "after
// t.Prev()" among that node's stamps includes t.
func (t Timestamp) Prev() Timestamp {
	if t.Logical > 0 {
		return Timestamp{Wall: t.Wall, Logical: t.Logical - 1, Node: t.Node}
	}
	if t.Wall == 0 {
		return Timestamp{}
	}
	return Timestamp{Wall: t.Wall - 1, Logical: math.MaxInt32, Node: t.Node}
}
