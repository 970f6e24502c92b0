package protocol

import (
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// OpSpelling is how a peer writes ProtoOplogEntry.operation. The C# node
// reads "Put"/"Delete" (and takes any other string for a put); the
// TypeScript node reads only "put"/"delete" (and stores "Delete" as a live,
// empty document). We read either; we write each peer its own.
type OpSpelling uint8

const (
	// SpellPascal: "Put" / "Delete" (Go and C# nodes; the default).
	SpellPascal OpSpelling = iota
	// SpellLower: "put" / "delete" (the TypeScript node).
	SpellLower
)

// Op spells o.
func (s OpSpelling) Op(o domain.Op) string {
	if s == SpellLower {
		if o == domain.OpDelete {
			return "delete"
		}
		return "put"
	}
	return o.String()
}

// isLowerOp reports whether op is the TypeScript spelling of an operation.
func isLowerOp(op string) bool { return op == "put" || op == "delete" }

// SpellingOf is the spelling a peer used in its entries, and whether they
// told (an empty batch does not).
func SpellingOf(ops ...string) (OpSpelling, bool) {
	for _, op := range ops {
		if isLowerOp(op) {
			return SpellLower, true
		}
		if op == "Put" || op == "Delete" {
			return SpellPascal, true
		}
	}
	return SpellPascal, false
}

// EntriesToProtoSpelled is EntriesToProto with operations spelled s.
func EntriesToProtoSpelled(entries []domain.Entry, s OpSpelling) []*pb.ProtoOplogEntry {
	out := EntriesToProto(entries)
	if s != SpellPascal {
		for i := range out {
			out[i].Operation = s.Op(entries[i].Op)
		}
	}
	return out
}
