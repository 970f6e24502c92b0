package tcp

import (
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

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
