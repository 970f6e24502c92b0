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
	err := eachField(payload, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			w, err := consumeEntry(v)
			if err != nil {
				return err
			}
			cs.Last = w.stamp()
			if !cs.Spelled {
				cs.Spelling, cs.Spelled = SpellingOf(w.operation)
			}
			e, err := w.entry()
			if err != nil {
				cs.Bad = append(cs.Bad, err)
				return nil
			}
			cs.Entries = append(cs.Entries, e)
		case num == 2 && typ == protowire.VarintType:
			cs.SnapshotRequired = x != 0
		}
		return nil
	})
	if err != nil {
		return ChangeSet{}, domain.Wrap(domain.CodeNetwork, op, err)
	}
	return cs, nil
}

// eachField walks a message's fields, handing each to fn with its value:
// v for a length-delimited field, x for a varint (other wire types are
// skipped with no value).
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	const op = "protocol.DecodeEntries"
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed(op, n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return malformed(op, n)
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// countEntries counts the entries of a message (0 when malformed: the
// decoding pass reports that), so their slice is allocated once.
func countEntries(b []byte) int {
	n := 0
	err := eachField(b, func(num protowire.Number, typ protowire.Type, _ []byte, _ uint64) error {
		if num == 1 && typ == protowire.BytesType {
			n++
		}
		return nil
	})
	if err != nil {
		return 0
	}
	return n
}

// consumeEntry reads one ProtoOplogEntry's fields; strings other than the
// document are copied (they are small and outlive the frame in maps).
func consumeEntry(b []byte) (wireEntry, error) {
	var w wireEntry
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ == protowire.VarintType {
			switch num {
			case 5:
				w.wall = int64(x)
			case 6:
				w.logic = int32(x)
			case 101:
				w.legacy = x != 0
			case 102:
				w.expiresAt = int64(x)
			}
			return nil
		}
		if typ != protowire.BytesType {
			return nil
		}
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
				return domain.Errorf(domain.CodeNetwork, "protocol.DecodeEntries", "malformed author proof: %w", err)
			}
			w.proof = proofFromProto(&p)
		}
		return nil
	})
	return w, err
}

func malformed(op string, n int) error {
	return domain.Errorf(domain.CodeNetwork, op, "malformed message: %w", protowire.ParseError(n))
}
