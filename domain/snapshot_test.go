package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSnapshotSizeGrowsWithContent(t *testing.T) {
	var sn Snapshot
	require.Zero(t, sn.Size())
	sn.Documents = []Document{{Collection: "c", Key: "k", Data: []byte(`{"a":1}`), Stamp: Timestamp{Wall: 1, Node: "n"}}}
	one := sn.Size()
	require.Positive(t, one)
	sn.Documents = append(sn.Documents, Document{Collection: "c", Key: "k2", Data: []byte(`{"a":1}`)})
	sn.Heads = map[string]string{"n": "h"}
	sn.VectorClock = map[string]Timestamp{"n": {Wall: 1, Node: "n"}}
	require.Greater(t, sn.Size(), 2*one-1)
}
