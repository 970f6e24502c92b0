package protocol

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

func TestEntryRoundTrip(t *testing.T) {
	e := domain.Entry{
		Collection: "users", Key: "alice", Op: domain.OpPut, Data: []byte(`{"name":"Alice"}`),
		Stamp: domain.Timestamp{Wall: 1795594600000, Logical: 3, Node: "node-a"},
	}
	e.Seal("")
	p := EntryToProto(&e)
	assert.Equal(t, "Put", p.Operation)
	got, err := EntryFromProto(p)
	require.NoError(t, err)
	assert.Equal(t, e, got)
	assert.True(t, got.VerifyHash())

	d := domain.Entry{Collection: "users", Key: "bob", Op: domain.OpDelete, Stamp: e.Stamp}
	p = EntryToProto(&d)
	assert.Equal(t, "Delete", p.Operation)
	assert.Equal(t, "", p.JsonData)
	got, err = EntryFromProto(p)
	require.NoError(t, err)
	assert.Equal(t, d, got)
}

func TestEntryFromProtoFieldRules(t *testing.T) {
	base := func(op, data string) *pb.ProtoOplogEntry {
		return &pb.ProtoOplogEntry{Collection: "c", Key: "k", Operation: op, JsonData: data, HlcWall: 1795594600000, HlcNode: "n"}
	}
	for _, tc := range []struct {
		name, op, data string
		ok             bool
		want           domain.Op
	}{
		{"Put object", "Put", `{"a":1}`, true, domain.OpPut},
		{"lower-case put from the TypeScript node", "put", `{"a":1}`, true, domain.OpPut},
		{"upper-case DELETE", "DELETE", "", true, domain.OpDelete},
		{"non-object JSON value is stored unchanged", "Put", `42`, true, domain.OpPut},
		{"JSON array", "Put", `[1,2]`, true, domain.OpPut},
		{"unknown operation", "Upsert", `{}`, false, 0},
		{"empty operation", "", `{}`, false, 0},
		{"invalid JSON", "Put", `{"a":`, false, 0},
		{"put without data", "Put", ``, false, 0},
		{"delete with invalid data", "Delete", `nope`, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := EntryFromProto(base(tc.op, tc.data))
			if !tc.ok {
				require.Error(t, err)
				assert.Equal(t, domain.CodeSync, domain.CodeOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, e.Op)
			assert.Equal(t, tc.data, string(e.Data))
		})
	}
}

func TestVectorClockConversion(t *testing.T) {
	vc := domain.VectorClock{
		"a": {Wall: 10, Logical: 1, Node: "a"},
		"b": {Wall: 20, Logical: 0, Node: "b"},
	}
	got := VectorClockFromProto(VectorClockToProto(vc))
	assert.Equal(t, vc, got)
	dup := VectorClockFromProto([]*pb.VectorClockEntry{{NodeId: "a", HlcWall: 5}, {NodeId: "a", HlcWall: 9}, {NodeId: "a", HlcWall: 7}})
	assert.Equal(t, int64(9), dup["a"].Wall)
}

// An expiry travels exactly (the author's proof covers it), and an entry
// without one leaves the field off the wire: it encodes as before expiry
// existed.
func TestEntryExpiryOnTheWire(t *testing.T) {
	e := domain.Entry{Collection: "sessions", Key: "s1", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: 1795594600000, Node: "node-a"}, ExpiresAt: 1795594690000}
	e.Seal("")
	b, err := proto.Marshal(EntryToProto(&e))
	require.NoError(t, err)
	var p pb.ProtoOplogEntry
	require.NoError(t, proto.Unmarshal(b, &p))
	got, err := EntryFromProto(&p)
	require.NoError(t, err)
	require.Equal(t, e.ExpiresAt, got.ExpiresAt)

	never := e
	never.ExpiresAt = 0
	withField, err := proto.Marshal(EntryToProto(&never))
	require.NoError(t, err)
	pe := EntryToProto(&never)
	require.Zero(t, pe.ExpiresAt)
	require.Less(t, len(withField), len(b), "an entry without expiry carries no expires_at field")
}
