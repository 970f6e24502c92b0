package protocol

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

func testSnapshot() domain.Snapshot {
	return domain.Snapshot{
		Documents: []domain.Document{
			{Collection: "c", Key: "k", Data: []byte(`{"a":1}`), Stamp: domain.Timestamp{Wall: 5, Logical: 2, Node: "n1"}},
			{Collection: "c", Key: "gone", Deleted: true, Stamp: domain.Timestamp{Wall: 6, Node: "n2"}},
		},
		Heads:       map[string]string{"n1": "h1"},
		VectorClock: map[string]domain.Timestamp{"n1": {Wall: 5, Logical: 2, Node: "n1"}},
	}
}

// The snapshot's JSON is what peers of every implementation parse: its
// field names and shapes must not change.
const testSnapshotJSON = `{"documents":[` +
	`{"collection":"c","key":"k","json_data":"{\"a\":1}","hlc_wall":5,"hlc_logic":2,"hlc_node":"n1"},` +
	`{"collection":"c","key":"gone","hlc_wall":6,"hlc_logic":0,"hlc_node":"n2","deleted":true}],` +
	`"heads":{"n1":"h1"},"vector_clock":{"n1":{"hlc_wall":5,"hlc_logic":2}}}`

func TestEncodeSnapshotKnownAnswer(t *testing.T) {
	data, err := EncodeSnapshot(testSnapshot())
	require.NoError(t, err)
	require.Equal(t, testSnapshotJSON, string(data))
}

func TestDecodeSnapshotRoundTrip(t *testing.T) {
	sn, err := DecodeSnapshot([]byte(testSnapshotJSON))
	require.NoError(t, err)
	require.Equal(t, testSnapshot(), sn)
}

func TestSnapshotEmpty(t *testing.T) {
	data, err := EncodeSnapshot(domain.Snapshot{})
	require.NoError(t, err)
	require.JSONEq(t, `{"documents":[],"heads":{},"vector_clock":{}}`, string(data))
	sn, err := DecodeSnapshot([]byte(`{}`))
	require.NoError(t, err)
	require.NotNil(t, sn.Heads)
	require.NotNil(t, sn.VectorClock)
	require.Empty(t, sn.Documents)
}

func TestDecodeSnapshotInvalid(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"documents":{}}`, `{"vector_clock":{"a":{"hlc_wall":"x"}}}`} {
		_, err := DecodeSnapshot([]byte(in))
		require.Equal(t, domain.CodeSync, domain.CodeOf(err), "%q", in)
	}
}

func TestSnapshotCarriesExpiry(t *testing.T) {
	sn := testSnapshot()
	sn.Documents[0].ExpiresAt = 1795594690000
	data, err := EncodeSnapshot(sn)
	require.NoError(t, err)
	require.Contains(t, string(data), `"expires_at":1795594690000`)
	back, err := DecodeSnapshot(data)
	require.NoError(t, err)
	require.Equal(t, sn, back)
}
