package protocol

import (
	"encoding/json"
	"unsafe"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// EntryToProto converts an oplog entry to its wire form. JsonData shares
// e.Data's bytes rather than copying them (a page of documents is sent
// once and dropped): e.Data must not change while the message is in use.
func EntryToProto(e *domain.Entry) *pb.ProtoOplogEntry {
	return &pb.ProtoOplogEntry{
		Collection:   e.Collection,
		Key:          e.Key,
		Operation:    e.Op.String(),
		JsonData:     unsafe.String(unsafe.SliceData(e.Data), len(e.Data)),
		HlcWall:      e.Stamp.Wall,
		HlcLogic:     e.Stamp.Logical,
		HlcNode:      e.Stamp.Node,
		Hash:         e.Hash,
		PreviousHash: e.PrevHash,
		Proof:        proofToProto(e.Proof),
		Legacy:       e.Legacy,
		ExpiresAt:    e.ExpiresAt,
	}
}

// proofToProto converts an author's proof; nil stays nil, so an entry
// without one encodes exactly as before proofs existed.
func proofToProto(p *domain.AuthorProof) *pb.ProtoAuthorProof {
	if p == nil {
		return nil
	}
	return &pb.ProtoAuthorProof{PublicKey: p.PublicKey, LinkBefore: p.LinkBefore, Tail: p.Tail, Signature: p.Signature}
}

// proofFromProto converts a wire proof as it is: its shape is checked when
// it is verified (domain.VerifyRun), where a malformed one is refused with
// the entries it claims to prove.
func proofFromProto(p *pb.ProtoAuthorProof) *domain.AuthorProof {
	if p == nil {
		return nil
	}
	return &domain.AuthorProof{PublicKey: p.GetPublicKey(), LinkBefore: p.GetLinkBefore(), Tail: p.GetTail(), Signature: p.GetSignature()}
}

// EntryFromProto converts a wire entry. An unknown operation or json_data
// that is not valid JSON is a SYNC_ERROR for this entry only (the caller
// keeps the connection); "" is accepted for a delete. Any JSON value is
// accepted, not only objects (PROTOCOL.md §2). The entry's Data shares
// p.JsonData's bytes rather than copying them (the message was just
// decoded and is dropped after conversion), so they must not be written to.
func EntryFromProto(p *pb.ProtoOplogEntry) (domain.Entry, error) {
	js := p.GetJsonData()
	return wireEntry{
		collection: p.GetCollection(), key: p.GetKey(), operation: p.GetOperation(),
		jsonData: unsafe.Slice(unsafe.StringData(js), len(js)),
		wall:     p.GetHlcWall(), logic: p.GetHlcLogic(), node: p.GetHlcNode(),
		hash: p.GetHash(), prevHash: p.GetPreviousHash(),
		proof: proofFromProto(p.GetProof()), legacy: p.GetLegacy(), expiresAt: p.GetExpiresAt(),
	}.entry()
}

// wireEntry is a ProtoOplogEntry's fields as read from the wire, by
// EntryFromProto or straight from a frame (DecodeEntries).
type wireEntry struct {
	collection, key, operation string
	jsonData                   []byte
	wall                       int64
	logic                      int32
	node, hash, prevHash       string
	proof                      *domain.AuthorProof
	legacy                     bool
	expiresAt                  int64
}

func (w wireEntry) stamp() domain.Timestamp {
	return domain.Timestamp{Wall: w.wall, Logical: w.logic, Node: w.node}
}

// entry checks the operation and the JSON and builds the entry.
func (w wireEntry) entry() (domain.Entry, error) {
	const op = "protocol.EntryFromProto"
	o, err := domain.ParseOp(w.operation)
	if err != nil {
		return domain.Entry{}, domain.Wrap(domain.CodeSync, op, err)
	}
	var data []byte
	if len(w.jsonData) > 0 || o == domain.OpPut {
		data = w.jsonData
		if !json.Valid(data) {
			return domain.Entry{}, domain.Errorf(domain.CodeSync, op, "entry %s/%s by %s: json_data is not valid JSON",
				w.collection, w.key, w.node)
		}
	}
	return domain.Entry{
		Collection: w.collection,
		Key:        w.key,
		Op:         o,
		Data:       data,
		Stamp:      w.stamp(),
		Hash:       w.hash,
		PrevHash:   w.prevHash,
		Proof:      w.proof,
		Legacy:     w.legacy,
		ExpiresAt:  w.expiresAt,
	}, nil
}

// EntriesToProto converts a batch for ChangeSetResponse, PushChangesRequest
// and ChainRangeResponse.
func EntriesToProto(entries []domain.Entry) []*pb.ProtoOplogEntry {
	out := make([]*pb.ProtoOplogEntry, len(entries))
	for i := range entries {
		out[i] = EntryToProto(&entries[i])
	}
	return out
}

// VectorClockToProto converts a vector clock to its wire entries.
func VectorClockToProto(vc domain.VectorClock) []*pb.VectorClockEntry {
	out := make([]*pb.VectorClockEntry, 0, len(vc))
	for node, ts := range vc {
		out = append(out, &pb.VectorClockEntry{NodeId: node, HlcWall: ts.Wall, HlcLogic: ts.Logical})
	}
	return out
}

// VectorClockFromProto converts wire entries to a vector clock; a node
// listed twice keeps its newest stamp.
func VectorClockFromProto(entries []*pb.VectorClockEntry) domain.VectorClock {
	vc := make(domain.VectorClock, len(entries))
	for _, e := range entries {
		vc.Observe(domain.Timestamp{Wall: e.GetHlcWall(), Logical: e.GetHlcLogic(), Node: e.GetNodeId()})
	}
	return vc
}
