package protocol

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// ChangeSet is a ChangeSetResponse or ChainRangeResponse read straight from
// its frame by DecodeEntries.
type ChangeSet struct {
	// Entries are those that converted; their Data shares the frame's
	// buffer (not copied), which must therefore not be reused.
	Entries []domain.Entry
	// Bad are the entries that did not convert (unknown operation, invalid
	// JSON), one error each: PROTOCOL.md says reject the entry, keep the
	// connection.
	Bad []error
	// Last is the stamp of the message's last entry, converted or not:
	// where a pull resumes.
	Last domain.Timestamp
	// Spelling is how the peer spelled operations, when Spelled.
	Spelling OpSpelling
	Spelled  bool
	// SnapshotRequired is ChainRangeResponse's field 2.
	SnapshotRequired bool
}

// DecodeEntries reads a ChangeSetResponse or ChainRangeResponse (entries in
// field 1, snapshot_required in field 2) without unmarshalling it into
// messages first: each entry's document is taken from the frame in place,
// so a very large answer (a C# node answers a pull with its whole oplog) is
// held once, not once as a frame, again as messages and again as entries.
// Malformed protobuf is an error for the whole message.
func DecodeEntries(payload []byte) (ChangeSet, error) {
	const op = "protocol.DecodeEntries"
	var cs ChangeSet
	if n := countEntries(payload); n > 0 {
		cs.Entries = make([]domain.Entry, 0, n)
	}
	b := payload
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ChangeSet{}, malformed(op, n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ChangeSet{}, malformed(op, n)
			}
			b = b[n:]
			w, err := consumeEntry(v)
			if err != nil {
				return ChangeSet{}, domain.Wrap(domain.CodeNetwork, op, err)
			}
			cs.Last = w.stamp()
			if !cs.Spelled {
				cs.Spelling, cs.Spelled = SpellingOf(w.operation)
			}
			e, err := w.entry()
			if err != nil {
				cs.Bad = append(cs.Bad, err)
				continue
			}
			cs.Entries = append(cs.Entries, e)
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return ChangeSet{}, malformed(op, n)
			}
			b = b[n:]
			cs.SnapshotRequired = v != 0
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return ChangeSet{}, malformed(op, n)
			}
			b = b[n:]
		}
	}
	return cs, nil
}

// countEntries counts the entries of a message (0 when malformed: the
// decoding pass reports that), so their slice is allocated once.
func countEntries(b []byte) int {
	n := 0
	for len(b) > 0 {
		num, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return 0
		}
		b = b[m:]
		m = protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0
		}
		b = b[m:]
		if num == 1 && typ == protowire.BytesType {
			n++
		}
	}
	return n
}

// consumeEntry reads one ProtoOplogEntry's fields; strings other than the
// document are copied (they are small and outlive the frame in maps).
func consumeEntry(b []byte) (wireEntry, error) {
	const op = "protocol.DecodeEntries"
	var w wireEntry
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return w, malformed(op, n)
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return w, malformed(op, n)
			}
			b = b[n:]
			switch num {
			case 1:
				w.collection = string(v)
			case 2:
				w.key = string(v)
			case 3:
				w.operation = string(v)
			case 4:
				w.jsonData = v
			case 7:
				w.node = string(v)
			case 8:
				w.hash = string(v)
			case 9:
				w.prevHash = string(v)
			case 100:
				var p pb.ProtoAuthorProof
				if err := proto.Unmarshal(v, &p); err != nil {
					return w, domain.Errorf(domain.CodeNetwork, op, "malformed author proof: %w", err)
				}
				w.proof = proofFromProto(&p)
			}
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return w, malformed(op, n)
			}
			b = b[n:]
			switch num {
			case 5:
				w.wall = int64(v)
			case 6:
				w.logic = int32(v)
			case 101:
				w.legacy = v != 0
			case 102:
				w.expiresAt = int64(v)
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return w, malformed(op, n)
			}
			b = b[n:]
		}
	}
	return w, nil
}

func malformed(op string, n int) error {
	return domain.Errorf(domain.CodeNetwork, op, "malformed message: %w", protowire.ParseError(n))
}
