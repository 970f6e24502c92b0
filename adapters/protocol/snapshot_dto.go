package protocol

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// The C# node (EntglDb.Net 2.x) sends and expects its snapshots as the JSON
// of its SnapshotDto class, with PascalCase names it matches case-sensitively
// (docs/PROTOCOL-NOTES.md, "The family today"). DecodeSnapshot tells the two
// shapes apart by their keys; EncodeSnapshotDto writes this one for the
// family peers that use it.

// SnapshotDtoVersion is the Version the C# node writes.
const SnapshotDtoVersion = "1.0"

type snapshotDto struct {
	Version          string                  `json:"Version"`
	CreatedAt        string                  `json:"CreatedAt"`
	NodeID           string                  `json:"NodeId"`
	Documents        []snapshotDtoDocument   `json:"Documents"`
	Oplog            []snapshotDtoOplog      `json:"Oplog"`
	SnapshotMetadata []snapshotDtoMetadata   `json:"SnapshotMetadata"`
	RemotePeers      []snapshotDtoRemotePeer `json:"RemotePeers"`
}

type snapshotDtoDocument struct {
	Collection string  `json:"Collection"`
	Key        string  `json:"Key"`
	JSONData   *string `json:"JsonData"`
	IsDeleted  bool    `json:"IsDeleted"`
	HlcWall    int64   `json:"HlcWall"`
	HlcLogic   int32   `json:"HlcLogic"`
	HlcNode    string  `json:"HlcNode"`
}

type snapshotDtoOplog struct {
	Collection   *string `json:"Collection"`
	Key          *string `json:"Key"`
	Operation    int     `json:"Operation"` // 0 put, 1 delete
	JSONData     *string `json:"JsonData"`
	HlcWall      int64   `json:"HlcWall"`
	HlcLogic     int32   `json:"HlcLogic"`
	HlcNode      string  `json:"HlcNode"`
	Hash         string  `json:"Hash"`
	PreviousHash *string `json:"PreviousHash"`
}

// snapshotDtoMetadata is one author's head: its newest stamp and hash.
type snapshotDtoMetadata struct {
	NodeID   string `json:"NodeId"`
	HlcWall  int64  `json:"HlcWall"`
	HlcLogic int32  `json:"HlcLogic"`
	Hash     string `json:"Hash"`
}

// snapshotDtoRemotePeer is read and ignored: the peers a C# node knows are
// its own configuration, not data.
type snapshotDtoRemotePeer struct {
	NodeID     string  `json:"NodeId"`
	Address    string  `json:"Address"`
	Type       int     `json:"Type"`
	OAuth2JSON *string `json:"OAuth2Json"`
	IsEnabled  bool    `json:"IsEnabled"`
}

// EncodeSnapshotDto renders a snapshot as the C# node's SnapshotDto JSON:
// documents (tombstones with a null JsonData), one SnapshotMetadata per
// author (its newest stamp and hash), no oplog and no remote peers. Authors
// are listed in byte order, so the output is deterministic.
func EncodeSnapshotDto(sn domain.Snapshot, nodeID string, createdAt time.Time) ([]byte, error) {
	w := snapshotDto{
		Version:          SnapshotDtoVersion,
		CreatedAt:        createdAt.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		NodeID:           nodeID,
		Documents:        make([]snapshotDtoDocument, len(sn.Documents)),
		Oplog:            []snapshotDtoOplog{},
		SnapshotMetadata: make([]snapshotDtoMetadata, 0, len(sn.VectorClock)),
		RemotePeers:      []snapshotDtoRemotePeer{},
	}
	for i := range sn.Documents {
		d := &sn.Documents[i]
		doc := snapshotDtoDocument{Collection: d.Collection, Key: d.Key, IsDeleted: d.Deleted,
			HlcWall: d.Stamp.Wall, HlcLogic: d.Stamp.Logical, HlcNode: d.Stamp.Node}
		if !d.Deleted {
			js := string(d.Data)
			doc.JSONData = &js
		}
		w.Documents[i] = doc
	}
	for _, author := range sortedAuthors(sn.VectorClock) {
		ts := sn.VectorClock[author]
		w.SnapshotMetadata = append(w.SnapshotMetadata, snapshotDtoMetadata{NodeID: author, HlcWall: ts.Wall,
			HlcLogic: ts.Logical, Hash: sn.Heads[author]})
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, domain.Wrap(domain.CodeInternal, "protocol.EncodeSnapshotDto", err)
	}
	return data, nil
}

// IsSnapshotDto reports whether a snapshot's JSON is a SnapshotDto: its
// object's first key that belongs to either shape is PascalCase.
func IsSnapshotDto(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case "Version", "CreatedAt", "NodeId", "Documents", "Oplog", "SnapshotMetadata", "RemotePeers":
			return true
		case "documents", "heads", "vector_clock":
			return false
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// decodeSnapshotDto reads a SnapshotDto. The vector clock and heads come
// from SnapshotMetadata and from the oplog's newest entry per author,
// whichever is newer; the oplog's entries themselves are not kept (the
// documents hold their result, and a snapshot's receiver takes its chains
// from the heads).
func decodeSnapshotDto(data []byte) (domain.Snapshot, error) {
	var w snapshotDto
	if err := json.Unmarshal(data, &w); err != nil {
		return domain.Snapshot{}, domain.Errorf(domain.CodeSync, "protocol.DecodeSnapshot", "SnapshotDto is not valid: %w", err)
	}
	sn := domain.Snapshot{
		Documents:   make([]domain.Document, len(w.Documents)),
		Heads:       map[string]string{},
		VectorClock: map[string]domain.Timestamp{},
	}
	for i, d := range w.Documents {
		doc := domain.Document{Collection: d.Collection, Key: d.Key, Deleted: d.IsDeleted,
			Stamp: domain.Timestamp{Wall: d.HlcWall, Logical: d.HlcLogic, Node: d.HlcNode}}
		if !d.IsDeleted && d.JSONData != nil && *d.JSONData != "" {
			doc.Data = []byte(*d.JSONData)
		}
		sn.Documents[i] = doc
	}
	observe := func(author string, ts domain.Timestamp, hash string) {
		if cur, ok := sn.VectorClock[author]; ok && !ts.After(cur) {
			return
		}
		sn.VectorClock[author] = ts
		sn.Heads[author] = hash
	}
	for _, m := range w.SnapshotMetadata {
		observe(m.NodeID, domain.Timestamp{Wall: m.HlcWall, Logical: m.HlcLogic, Node: m.NodeID}, m.Hash)
	}
	for _, o := range w.Oplog {
		observe(o.HlcNode, domain.Timestamp{Wall: o.HlcWall, Logical: o.HlcLogic, Node: o.HlcNode}, o.Hash)
	}
	return sn, nil
}

func sortedAuthors(vc map[string]domain.Timestamp) []string {
	out := make([]string, 0, len(vc))
	for a := range vc {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}
