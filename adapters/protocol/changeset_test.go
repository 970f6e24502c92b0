package protocol

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

func changeSetSample() *pb.ChainRangeResponse {
	return &pb.ChainRangeResponse{SnapshotRequired: true, Entries: []*pb.ProtoOplogEntry{
		{Collection: "users", Key: "u1", Operation: "put", JsonData: `{"a":"ü"}`, HlcWall: 1780000000000, HlcLogic: 3, HlcNode: "ts-1",
			Hash: "h1", PreviousHash: "h0", ExpiresAt: 99},
		{Collection: "users", Key: "u2", Operation: "Upsert", JsonData: `{}`, HlcWall: 1780000000001, HlcNode: "ts-1"},
		{Collection: "users", Key: "u3", Operation: "delete", HlcWall: 1780000000002, HlcNode: "ts-1", Legacy: true,
			Proof: &pb.ProtoAuthorProof{PublicKey: []byte{1}, Tail: [][]byte{{2}, {3}}, Signature: []byte{4}}},
		{Collection: "users", Key: "u4", Operation: "Put", JsonData: `{bad`, HlcWall: 1780000000003, HlcNode: "ts-1"},
	}}
}

// DecodeEntries reads what proto.Unmarshal and EntryFromProto read, with
// documents left in the frame.
func TestDecodeEntriesMatchesMessages(t *testing.T) {
	payload, err := proto.Marshal(changeSetSample())
	require.NoError(t, err)
	cs, err := DecodeEntries(payload)
	require.NoError(t, err)
	var msg pb.ChainRangeResponse
	require.NoError(t, proto.Unmarshal(payload, &msg))
	want, bad := convertAll(msg.GetEntries())
	require.Equal(t, want, cs.Entries)
	require.Len(t, cs.Bad, len(bad))
	require.Len(t, cs.Bad, 2, "an unknown operation and invalid JSON are refused per entry")
	require.True(t, cs.SnapshotRequired)
	require.Equal(t, domain.Timestamp{Wall: 1780000000003, Node: "ts-1"}, cs.Last)
	require.True(t, cs.Spelled)
	require.Equal(t, SpellLower, cs.Spelling)
	start, end := uintptr(unsafe.Pointer(&payload[0])), uintptr(unsafe.Pointer(&payload[len(payload)-1]))
	doc := uintptr(unsafe.Pointer(unsafe.SliceData(cs.Entries[0].Data)))
	require.True(t, doc >= start && doc <= end, "the document is read in place, not copied")
}

func TestDecodeEntriesMalformed(t *testing.T) {
	payload, err := proto.Marshal(changeSetSample())
	require.NoError(t, err)
	_, err = DecodeEntries(payload[:len(payload)-3])
	require.Error(t, err)
	require.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
}

// convertAll is what the transport did before DecodeEntries.
func convertAll(in []*pb.ProtoOplogEntry) ([]domain.Entry, []error) {
	out := make([]domain.Entry, 0, len(in))
	var bad []error
	for _, p := range in {
		e, err := EntryFromProto(p)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, e)
	}
	return out, bad
}

// FuzzDecodeEntries: every frame protobuf accepts as a ChainRangeResponse
// DecodeEntries reads alike (it is laxer only about UTF-8 in strings, which
// the entry checks refuse later).
func FuzzDecodeEntries(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		cs, err := DecodeEntries(payload)
		var msg pb.ChainRangeResponse
		if proto.Unmarshal(payload, &msg) != nil {
			return
		}
		if err != nil {
			t.Fatalf("protobuf reads the message, DecodeEntries does not: %v", err)
		}
		want, bad := convertAll(msg.GetEntries())
		if len(want) == 0 {
			want = nil
		}
		if len(cs.Entries) == 0 {
			cs.Entries = nil
		}
		if !reflect.DeepEqual(want, cs.Entries) || len(bad) != len(cs.Bad) || msg.GetSnapshotRequired() != cs.SnapshotRequired {
			t.Fatalf("DecodeEntries read\n%+v (%d bad)\nprotobuf\n%+v (%d bad)", cs.Entries, len(cs.Bad), want, len(bad))
		}
	})
}

// TestWriteDecodeEntriesSeeds keeps the committed seed corpus in step with
// changeSetSample (ENTGLDB_WRITE_SEEDS=1 rewrites it).
func TestWriteDecodeEntriesSeeds(t *testing.T) {
	if os.Getenv("ENTGLDB_WRITE_SEEDS") == "" {
		t.Skip("set ENTGLDB_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEntries")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	one := changeSetSample()
	one.Entries = one.Entries[:1]
	for name, m := range map[string]proto.Message{"sample": changeSetSample(), "one": one, "empty": &pb.ChainRangeResponse{}} {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n[]byte("+quoteBytes(b)+")\n"), 0o644))
	}
}

func quoteBytes(b []byte) string {
	s := make([]byte, 0, 4*len(b)+2)
	s = append(s, '"')
	for _, c := range b {
		s = append(s, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
	}
	return string(append(s, '"'))
}

// BenchmarkDecodeChangeSet1MiB reads a ~1 MiB ChangeSetResponse into
// entries: as messages then converted (before DecodeEntries), and in place.
func BenchmarkDecodeChangeSet1MiB(b *testing.B) {
	cs := &pb.ChangeSetResponse{}
	for len(cs.Entries) == 0 || proto.Size(cs) < 1<<20 {
		cs.Entries = append(cs.Entries, bigChangeSet(100).Entries...)
	}
	payload, err := proto.Marshal(cs)
	require.NoError(b, err)
	b.Run("messages", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			var m pb.ChangeSetResponse
			if err := proto.Unmarshal(payload, &m); err != nil {
				b.Fatal(err)
			}
			if _, bad := convertAll(m.GetEntries()); len(bad) > 0 {
				b.Fatal(bad[0])
			}
		}
	})
	b.Run("in-place", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeEntries(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
