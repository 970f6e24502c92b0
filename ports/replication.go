package ports

import "encoding/json"

// The replication and chain reports the dashboard shows (GET
// /v1/admin/replication and /v1/admin/chains). JSON names are the HTTP
// contract.

// ReplicationReport says which node holds how much of which author's
// history, as far as this node knows: its own vector clock, and the clock
// each known peer reported in its last session (advanced by what it
// accepted from our pushes since).
type ReplicationReport struct {
	NodeID string `json:"node_id"`
	// Authors are every author some row holds, sorted.
	Authors []string `json:"authors"`
	// Replicas are this node first, then the known peers, sorted.
	Replicas []ReplicaClock `json:"replicas"`
}

// ReplicaClock is one node's row of the matrix.
type ReplicaClock struct {
	NodeID string `json:"node_id"`
	Self   bool   `json:"self,omitempty"`
	// LastHeard is when the peer was last heard from (Unix ms, 0 = never;
	// 0 for this node).
	LastHeard int64 `json:"last_heard,omitempty"`
	// Held maps author → what the node holds of its history.
	Held map[string]AuthorHeld `json:"held"`
}

// AuthorHeld is one cell: the newest entry of an author the node holds;
// Behind, how many of the author's entries this node holds after it (what
// the node lacks of what we have; 0 for this node itself); Entries, how
// many of those this node holds the node has too (for this node: all it
// holds of the author; compaction makes it fewer than the author wrote).
type AuthorHeld struct {
	Version string `json:"version,omitempty"` // "" = nothing held
	Wall    int64  `json:"wall,omitempty"`
	Entries int    `json:"entries"`
	Behind  int    `json:"behind"`
}

// ChainReport is the result of checking one author's hash chain as this
// node holds it.
type ChainReport struct {
	Author string `json:"author"`
	// Entries is how many of the author's entries were checked.
	Entries int `json:"entries"`
	// Head is the hash of the newest entry held.
	Head string `json:"head,omitempty"`
	// Gaps count links to entries this node does not hold (history
	// compacted, pruned or brought by a snapshot): expected, not a break.
	Gaps int `json:"gaps"`
	// Intact is false when Break names where the chain is broken.
	Intact bool        `json:"intact"`
	Break  *ChainBreak `json:"break,omitempty"`
}

// ChainBreak is the first place an author's chain does not hold together.
type ChainBreak struct {
	Version    string `json:"version"`
	Collection string `json:"collection"`
	Key        string `json:"key"`
	Hash       string `json:"hash"`
	Reason     string `json:"reason"`
}

// HistoryEntry is one oplog entry of a document (GET
// /v1/collections/{c}/docs/{key}/history).
type HistoryEntry struct {
	Seq     int64  `json:"seq"`
	Op      string `json:"op"` // "put" or "delete"
	Version string `json:"version"`
	Author  string `json:"author"`
	Hash    string `json:"hash"`
	// Data is the document as written, when the oplog still holds it
	// (absent for deletes and for entries whose body only the document
	// keeps).
	Data json.RawMessage `json:"data,omitempty"`
}

// BackupInfo is one backup file on disk (GET /v1/admin/backups).
type BackupInfo struct {
	// Kind is "auto" or "manual" (asked for through the API).
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Bytes    int64  `json:"bytes"`
	Modified int64  `json:"modified"` // Unix ms
}
