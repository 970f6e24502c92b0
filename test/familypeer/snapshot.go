package familypeer

import (
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// The C# node's SnapshotDto, written here from its class rather than with
// the adapter's encoder, so that a test checks one against the other.

type dto struct {
	Version          string        `json:"Version"`
	CreatedAt        string        `json:"CreatedAt"`
	NodeID           string        `json:"NodeId"`
	Documents        []dtoDocument `json:"Documents"`
	Oplog            []dtoOplog    `json:"Oplog"`
	SnapshotMetadata []dtoMeta     `json:"SnapshotMetadata"`
	RemotePeers      []struct{}    `json:"RemotePeers"`
}

type dtoDocument struct {
	Collection string  `json:"Collection"`
	Key        string  `json:"Key"`
	JSONData   *string `json:"JsonData"`
	IsDeleted  bool    `json:"IsDeleted"`
	HlcWall    int64   `json:"HlcWall"`
	HlcLogic   int32   `json:"HlcLogic"`
	HlcNode    string  `json:"HlcNode"`
}

type dtoOplog struct {
	Collection   string  `json:"Collection"`
	Key          string  `json:"Key"`
	Operation    int     `json:"Operation"`
	JSONData     *string `json:"JsonData"`
	HlcWall      int64   `json:"HlcWall"`
	HlcLogic     int32   `json:"HlcLogic"`
	HlcNode      string  `json:"HlcNode"`
	Hash         string  `json:"Hash"`
	PreviousHash string  `json:"PreviousHash"`
}

type dtoMeta struct {
	NodeID   string `json:"NodeId"`
	HlcWall  int64  `json:"HlcWall"`
	HlcLogic int32  `json:"HlcLogic"`
	Hash     string `json:"Hash"`
}

func jsonOrNull(b []byte, deleted bool) *string {
	if deleted {
		return nil
	}
	s := string(b)
	return &s
}

func (p *Peer) vectorClock() domain.VectorClock {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.vc)
}

// snapshotDto is its whole state as SnapshotDto JSON.
func (p *Peer) snapshotDto() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := dto{Version: "1.0", CreatedAt: time.Now().UTC().Format(time.RFC3339Nano), NodeID: p.opts.NodeID,
		Documents: []dtoDocument{}, Oplog: []dtoOplog{}, SnapshotMetadata: []dtoMeta{}, RemotePeers: []struct{}{}}
	for _, d := range p.docs {
		w.Documents = append(w.Documents, dtoDocument{Collection: d.Collection, Key: d.Key, JSONData: jsonOrNull(d.Data, d.Deleted),
			IsDeleted: d.Deleted, HlcWall: d.Stamp.Wall, HlcLogic: d.Stamp.Logical, HlcNode: d.Stamp.Node})
	}
	for _, e := range p.oplog {
		w.Oplog = append(w.Oplog, dtoOplog{Collection: e.Collection, Key: e.Key, Operation: int(e.Op),
			JSONData: jsonOrNull(e.Data, e.Op == domain.OpDelete), HlcWall: e.Stamp.Wall, HlcLogic: e.Stamp.Logical,
			HlcNode: e.Stamp.Node, Hash: e.Hash, PreviousHash: e.PrevHash})
	}
	for a, ts := range p.vc {
		w.SnapshotMetadata = append(w.SnapshotMetadata, dtoMeta{NodeID: a, HlcWall: ts.Wall, HlcLogic: ts.Logical, Hash: p.heads[a]})
	}
	return json.Marshal(w)
}

// errNotDto: a snapshot in another shape, which a C# node cannot read.
var errNotDto = errors.New("not a SnapshotDto")

// mergeSnapshot merges a peer's SnapshotDto as a C# node does: names matched
// case-sensitively (a snapshot in another shape merges nothing), documents
// last-write-wins, the metadata's heads taken where newer.
func (p *Peer) mergeSnapshot(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	rawDocs, ok := top["Documents"]
	if !ok {
		return errNotDto
	}
	var docs []map[string]json.RawMessage
	if err := json.Unmarshal(rawDocs, &docs); err != nil {
		return err
	}
	var meta []dtoMeta
	if raw, ok := top["SnapshotMetadata"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range docs {
		var d dtoDocument
		for name, dst := range map[string]any{"Collection": &d.Collection, "Key": &d.Key, "JsonData": &d.JSONData,
			"IsDeleted": &d.IsDeleted, "HlcWall": &d.HlcWall, "HlcLogic": &d.HlcLogic, "HlcNode": &d.HlcNode} {
			raw, ok := m[name]
			if !ok {
				return errNotDto
			}
			if err := json.Unmarshal(raw, dst); err != nil {
				return err
			}
		}
		doc := domain.Document{Collection: d.Collection, Key: d.Key, Deleted: d.IsDeleted,
			Stamp: domain.Timestamp{Wall: d.HlcWall, Logical: d.HlcLogic, Node: d.HlcNode}}
		if d.JSONData != nil {
			doc.Data = []byte(*d.JSONData)
		}
		k := [2]string{d.Collection, d.Key}
		if cur, ok := p.docs[k]; !ok || doc.Stamp.After(cur.Stamp) {
			p.docs[k] = doc
			_, _ = p.clock.Update(doc.Stamp)
		}
	}
	for _, m := range meta {
		ts := domain.Timestamp{Wall: m.HlcWall, Logical: m.HlcLogic, Node: m.NodeID}
		if ts.After(p.vc[m.NodeID]) {
			p.vc[m.NodeID], p.heads[m.NodeID] = ts, m.Hash
		}
	}
	return nil
}
