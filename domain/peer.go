package domain

// PeerSource says how a peer became known.
type PeerSource string

const (
	PeerDiscovered PeerSource = "discovered"
	PeerStatic     PeerSource = "static"
)

// Peer is another node we can sync with.
type Peer struct {
	NodeID  string
	Address string // host:port of its TCP sync listener
	Source  PeerSource
	// Interests are the collections it asked for (empty: all).
	Interests []string
	// LastSeen is Unix milliseconds of the last beacon or contact.
	LastSeen int64
}

// Change is one applied change, local or remote, as the change feed shows it.
type Change struct {
	// Seq is the local commit sequence: the resumable position of the feed.
	Seq        int64
	Collection string
	Key        string
	Op         Op
	Data       []byte
	Stamp      Timestamp
	Remote     bool
}

// Snapshot is the state a node hands a peer that must bootstrap because the
// history it lacks was pruned: every document (tombstones included), the
// newest hash per author and the vector clock.
type Snapshot struct {
	Documents   []Document           `json:"documents"`
	Heads       map[string]string    `json:"heads"`
	VectorClock map[string]Timestamp `json:"vector_clock"`
}
