package tcp

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// The server sends the handler's snapshot encoded, in full chunks of
// SnapshotChunkBytes and a last one flagged is_last.
func TestSnapshotStreamedInChunks(t *testing.T) {
	h := &fakeHandler{snapshot: bigSnapshot()}
	s := startServer(t, h, zap.NewNop())
	r := dialRaw(t, s.Addr().String())
	require.True(t, r.handshake(t, clientIdentity).GetAccepted())

	require.NoError(t, r.ch.Send(protocol.GetSnapshotReq, &pb.GetSnapshotRequest{}))
	var chunks []*pb.SnapshotChunk
	for len(chunks) == 0 || !chunks[len(chunks)-1].GetIsLast() {
		typ, payload, err := r.ch.Recv()
		require.NoError(t, err)
		require.Equal(t, protocol.SnapshotChunkMsg, typ)
		var c pb.SnapshotChunk
		require.NoError(t, proto.Unmarshal(payload, &c))
		chunks = append(chunks, &c)
	}
	want, err := protocol.EncodeSnapshot(h.snapshot)
	require.NoError(t, err)
	require.Greater(t, len(chunks), 2, "the test snapshot needs several chunks")
	var got []byte
	for i, c := range chunks {
		if i < len(chunks)-1 {
			require.Len(t, c.GetData(), protocol.SnapshotChunkBytes, "chunk %d", i)
		} else {
			require.LessOrEqual(t, len(c.GetData()), protocol.SnapshotChunkBytes)
			require.NotEmpty(t, c.GetData())
		}
		got = append(got, c.GetData()...)
	}
	require.Equal(t, want, got)
}
