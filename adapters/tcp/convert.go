package tcp

import (
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

func entriesToProto(entries []domain.Entry) []*pb.ProtoOplogEntry {
	out := make([]*pb.ProtoOplogEntry, len(entries))
	for i := range entries {
		out[i] = protocol.EntryToProto(entries[i])
	}
	return out
}

// entriesFromProto converts what a peer sent. Entries that do not convert
// (unknown operation, invalid JSON) are returned as errors beside the good
// ones: PROTOCOL.md says reject the entry, keep the connection.
func entriesFromProto(in []*pb.ProtoOplogEntry) ([]domain.Entry, []error) {
	out := make([]domain.Entry, 0, len(in))
	var bad []error
	for _, p := range in {
		e, err := protocol.EntryFromProto(p)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, e)
	}
	return out, bad
}

func vclockToProto(vc domain.VectorClock) []*pb.VectorClockEntry {
	out := make([]*pb.VectorClockEntry, 0, len(vc))
	for node, ts := range vc {
		out = append(out, &pb.VectorClockEntry{NodeId: node, HlcWall: ts.Wall, HlcLogic: ts.Logical})
	}
	return out
}

func vclockFromProto(in []*pb.VectorClockEntry) domain.VectorClock {
	vc := make(domain.VectorClock, len(in))
	for _, e := range in {
		ts := domain.Timestamp{Wall: e.GetHlcWall(), Logical: e.GetHlcLogic(), Node: e.GetNodeId()}
		// A peer listing an author twice: keep the newest, never go backwards.
		if old, ok := vc[e.GetNodeId()]; !ok || ts.After(old) {
			vc[e.GetNodeId()] = ts
		}
	}
	return vc
}
