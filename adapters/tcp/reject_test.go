package tcp

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// recordingHandler is a fakeHandler that also records undecodable entries.
type recordingHandler struct {
	*fakeHandler
	mu       sync.Mutex
	rejected []error
}

func (h *recordingHandler) RecordRejected(_ ports.PeerInfo, errs []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rejected = append(h.rejected, errs...)
}

// Entries the server cannot decode are reported to a handler that records
// rejections, the good ones still reach PushChanges, and the connection
// stays open.
func TestPushedEntriesThatCannotBeDecodedAreRecorded(t *testing.T) {
	h := &recordingHandler{fakeHandler: &fakeHandler{}}
	s := startServer(t, h, zap.NewNop())
	r := dialRaw(t, s.Addr().String())
	require.True(t, r.handshake(t, clientIdentity).GetAccepted())

	good := protocol.EntryToProto(&testEntries(1)[0])
	bad := proto.Clone(good).(*pb.ProtoOplogEntry)
	bad.Operation = "Upsert"
	require.NoError(t, r.ch.Send(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: []*pb.ProtoOplogEntry{good, bad}}))
	typ, payload, err := r.ch.Recv()
	require.NoError(t, err)
	require.Equal(t, protocol.AckRes, typ)
	var ack pb.AckResponse
	require.NoError(t, proto.Unmarshal(payload, &ack))
	require.False(t, ack.GetSuccess(), "a rejected entry makes the ack unsuccessful")

	h.mu.Lock()
	require.Len(t, h.rejected, 1)
	require.Equal(t, domain.CodeSync, domain.CodeOf(h.rejected[0]))
	h.mu.Unlock()

	// The connection is still usable.
	require.NoError(t, r.ch.Send(protocol.GetClockReq, &pb.GetClockRequest{}))
	typ, _, err = r.ch.Recv()
	require.NoError(t, err)
	require.Equal(t, protocol.ClockRes, typ)
}
