package protocol

import (
	"encoding/json"

	"github.com/entgldb/entgldb-go/domain"
)

// SnapshotChunkBytes is the largest SnapshotChunk payload (PROTOCOL.md §3:
// at most 80 KiB each): a snapshot's JSON travels in chunks of this size,
// the last one at most as long and flagged is_last.
const SnapshotChunkBytes = 80 << 10

// snapshotWire is the JSON a snapshot travels as. Document bodies are JSON
// text in a string (like ProtoOplogEntry.json_data), so any JSON value
// round-trips byte for byte.
type snapshotWire struct {
	Documents   []snapshotDoc            `json:"documents"`
	Heads       map[string]string        `json:"heads"`
	VectorClock map[string]snapshotStamp `json:"vector_clock"`
}

type snapshotDoc struct {
	Collection string `json:"collection"`
	Key        string `json:"key"`
	JSONData   string `json:"json_data,omitempty"`
	Wall       int64  `json:"hlc_wall"`
	Logic      int32  `json:"hlc_logic"`
	Node       string `json:"hlc_node"`
	Deleted    bool   `json:"deleted,omitempty"`
	// ExpiresAt is absent when the document never expires, so such a
	// snapshot encodes exactly as before expiry existed.
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

type snapshotStamp struct {
	Wall  int64 `json:"hlc_wall"`
	Logic int32 `json:"hlc_logic"`
}

// EncodeSnapshot renders a snapshot as the JSON carried by SnapshotChunk
// frames (concatenated).
func EncodeSnapshot(sn domain.Snapshot) ([]byte, error) {
	w := snapshotWire{
		Documents:   make([]snapshotDoc, len(sn.Documents)),
		Heads:       sn.Heads,
		VectorClock: make(map[string]snapshotStamp, len(sn.VectorClock)),
	}
	for i, d := range sn.Documents {
		w.Documents[i] = snapshotDoc{Collection: d.Collection, Key: d.Key, JSONData: string(d.Data),
			Wall: d.Stamp.Wall, Logic: d.Stamp.Logical, Node: d.Stamp.Node, Deleted: d.Deleted, ExpiresAt: d.ExpiresAt}
	}
	for author, ts := range sn.VectorClock {
		w.VectorClock[author] = snapshotStamp{Wall: ts.Wall, Logic: ts.Logical}
	}
	if w.Heads == nil {
		w.Heads = map[string]string{}
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, domain.Wrap(domain.CodeInternal, "protocol.EncodeSnapshot", err)
	}
	return data, nil
}

// DecodeSnapshot parses a snapshot's JSON, ours or the C# node's SnapshotDto
// (told apart by content: IsSnapshotDto). Vector-clock stamps get their
// author as node (the wire carries it once, as the key). Whether document
// bodies are valid JSON is left to the receiver, which drops such documents
// and reports them rather than refusing the whole snapshot.
func DecodeSnapshot(data []byte) (domain.Snapshot, error) {
	if IsSnapshotDto(data) {
		return decodeSnapshotDto(data)
	}
	var w snapshotWire
	if err := json.Unmarshal(data, &w); err != nil {
		return domain.Snapshot{}, domain.Errorf(domain.CodeSync, "protocol.DecodeSnapshot", "snapshot is not valid JSON: %w", err)
	}
	sn := domain.Snapshot{
		Documents:   make([]domain.Document, len(w.Documents)),
		Heads:       w.Heads,
		VectorClock: make(map[string]domain.Timestamp, len(w.VectorClock)),
	}
	for i, d := range w.Documents {
		doc := domain.Document{Collection: d.Collection, Key: d.Key,
			Stamp: domain.Timestamp{Wall: d.Wall, Logical: d.Logic, Node: d.Node}, Deleted: d.Deleted, ExpiresAt: d.ExpiresAt}
		// An empty body decodes as none, as in a SnapshotDto, so both
		// spellings of one snapshot decode alike.
		if !d.Deleted && d.JSONData != "" {
			doc.Data = []byte(d.JSONData)
		}
		sn.Documents[i] = doc
	}
	for author, ts := range w.VectorClock {
		sn.VectorClock[author] = domain.Timestamp{Wall: ts.Wall, Logical: ts.Logic, Node: author}
	}
	if sn.Heads == nil {
		sn.Heads = map[string]string{}
	}
	return sn, nil
}
