package protocol

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// dtoVectorPath is the known-answer vector of a 2.3.8 node's snapshot: its
// SnapshotDto JSON as System.Text.Json writes it (PascalCase, compact).
const dtoVectorPath = "testdata/family/snapshotdto-2.3.8.json"

// dtoVectorSnapshot is what dtoVectorPath holds, as a domain snapshot.
func dtoVectorSnapshot() domain.Snapshot {
	a := "csharp-a"
	return domain.Snapshot{
		Documents: []domain.Document{
			{Collection: "users", Key: "u1", Data: []byte(`{"name":"Ana","city":"São Paulo"}`),
				Stamp: domain.Timestamp{Wall: 1780000000000, Node: a}},
			{Collection: "users", Key: "u2", Deleted: true, Stamp: domain.Timestamp{Wall: 1780000000500, Logical: 1, Node: a}},
		},
		Heads:       map[string]string{a: "fb72e04358cc654b16f119c1387e3912da24e3302024e58937cf8756e2cd8df4"},
		VectorClock: map[string]domain.Timestamp{a: {Wall: 1780000000500, Logical: 1, Node: a}},
	}
}

func TestDecodeSnapshotDtoKnownAnswer(t *testing.T) {
	data, err := os.ReadFile(dtoVectorPath)
	require.NoError(t, err)
	require.True(t, IsSnapshotDto(data))
	sn, err := DecodeSnapshot(data)
	require.NoError(t, err)
	require.Equal(t, dtoVectorSnapshot(), sn)
}

// Our SnapshotDto for the vector's state is the vector without its oplog
// and remote peers (we send documents and heads, as a 2.3.8 node reads
// them), byte for byte in System.Text.Json's names and order.
func TestEncodeSnapshotDtoKnownAnswer(t *testing.T) {
	created := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	got, err := EncodeSnapshotDto(dtoVectorSnapshot(), "csharp-a", created)
	require.NoError(t, err)
	want := `{"Version":"1.0","CreatedAt":"2026-06-01T10:00:00.0000000Z","NodeId":"csharp-a","Documents":[` +
		`{"Collection":"users","Key":"u1","JsonData":"{\"name\":\"Ana\",\"city\":\"São Paulo\"}","IsDeleted":false,"HlcWall":1780000000000,"HlcLogic":0,"HlcNode":"csharp-a"},` +
		`{"Collection":"users","Key":"u2","JsonData":null,"IsDeleted":true,"HlcWall":1780000000500,"HlcLogic":1,"HlcNode":"csharp-a"}],` +
		`"Oplog":[],"SnapshotMetadata":[{"NodeId":"csharp-a","HlcWall":1780000000500,"HlcLogic":1,"Hash":"fb72e04358cc654b16f119c1387e3912da24e3302024e58937cf8756e2cd8df4"}],"RemotePeers":[]}`
	require.Equal(t, want, string(got))
	back, err := DecodeSnapshot(got)
	require.NoError(t, err)
	require.Equal(t, dtoVectorSnapshot(), back)
}

func TestSnapshotShapeDetectedByContent(t *testing.T) {
	ours, err := EncodeSnapshot(dtoVectorSnapshot())
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		data string
		dto  bool
	}{
		"ours":                   {string(ours), false},
		"dto":                    {`{"Version":"1.0","Documents":[]}`, true},
		"dto without version":    {`{"Documents":[],"SnapshotMetadata":[]}`, true},
		"unknown keys then ours": {`{"x":{"Documents":1},"heads":{}}`, false},
		"not an object":          {`[1,2]`, false},
		"lower-case dto names":   {`{"version":"1.0","documents":[]}`, false},
	} {
		t.Run(name, func(t *testing.T) { require.Equal(t, tc.dto, IsSnapshotDto([]byte(tc.data))) })
	}
}

// A SnapshotDto's heads are the newest of its metadata and its oplog.
func TestDecodeSnapshotDtoHeadsFromOplog(t *testing.T) {
	sn, err := DecodeSnapshot([]byte(`{"Version":"1.0","Documents":[],"Oplog":[` +
		`{"Collection":"c","Key":"k","Operation":0,"JsonData":"{}","HlcWall":20,"HlcLogic":0,"HlcNode":"b","Hash":"hb","PreviousHash":""}],` +
		`"SnapshotMetadata":[{"NodeId":"a","HlcWall":10,"HlcLogic":2,"Hash":"ha"},{"NodeId":"b","HlcWall":5,"HlcLogic":0,"Hash":"old"}]}`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "ha", "b": "hb"}, sn.Heads)
	require.Equal(t, domain.Timestamp{Wall: 20, Node: "b"}, sn.VectorClock["b"])
	require.Empty(t, sn.Documents)
}

// FuzzDecodeSnapshotDto: whatever a family peer sends as a SnapshotDto
// either fails to decode or survives a SnapshotDto round trip unchanged.
func FuzzDecodeSnapshotDto(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		sn, err := decodeSnapshotDto(data)
		if err != nil {
			return
		}
		enc, err := EncodeSnapshotDto(sn, "n", time.Unix(0, 0))
		if err != nil {
			t.Fatalf("a decoded SnapshotDto does not encode: %v", err)
		}
		again, err := DecodeSnapshot(enc)
		if err != nil {
			t.Fatalf("re-encoded SnapshotDto does not decode: %v", err)
		}
		if !reflect.DeepEqual(sn, again) {
			t.Fatalf("SnapshotDto changed in a round trip:\n%+v\n%+v", sn, again)
		}
	})
}
