package tcp

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
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

// refusingHandler applies what it is pushed but the last entry, which it
// refuses the way app.SyncService does.
type refusingHandler struct{ *fakeHandler }

func (h refusingHandler) PushChanges(ctx context.Context, p ports.PeerInfo, entries []domain.Entry) (bool, error) {
	_, _ = h.fakeHandler.PushChanges(ctx, p, entries[:len(entries)-1])
	return true, domain.Wrap(domain.CodeSync, "sync.PushChanges", ports.ErrEntriesRefused)
}

// A push the handler partly refuses is acked success=false (with
// snapshot_required as the handler said), the rest is applied, and the
// server leaves the logging to the handler, which bounds it.
func TestPushWithRefusedEntriesIsAckedUnsuccessful(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	h := refusingHandler{&fakeHandler{}}
	s := startServer(t, h, zap.New(core))
	r := dialRaw(t, s.Addr().String())
	require.True(t, r.handshake(t, clientIdentity).GetAccepted())

	require.NoError(t, r.ch.Send(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: protocol.EntriesToProto(testEntries(3))}))
	typ, payload, err := r.ch.Recv()
	require.NoError(t, err)
	require.Equal(t, protocol.AckRes, typ)
	var ack pb.AckResponse
	require.NoError(t, proto.Unmarshal(payload, &ack))
	require.False(t, ack.GetSuccess(), "refused entries are not acked as applied")
	require.True(t, ack.GetSnapshotRequired())
	h.mu.Lock()
	require.Len(t, h.pushed, 2, "the others were applied")
	h.mu.Unlock()
	require.Zero(t, logs.FilterMessage("applying pushed entries failed").Len(), "a refusal is not a failure to log per push")
}

// Entries of an answer that cannot be read come with an error saying where
// a pull resumes: the answer's last entry, read or not.
func TestUnreadableEntriesSayWhereAPullResumes(t *testing.T) {
	in := protocol.EntriesToProto(testEntries(3))
	in[1].Operation = "Upsert"
	in[2].Operation = "Upsert"
	payload, err := proto.Marshal(&pb.ChangeSetResponse{Entries: in})
	require.NoError(t, err)
	cs, err := protocol.DecodeEntries(payload)
	require.NoError(t, err)
	require.Len(t, cs.Entries, 1)
	err = unreadable("tcp.PullChanges", cs)
	require.Equal(t, domain.CodeSync, domain.CodeOf(err))
	var unreadable *ports.UnreadableEntriesError
	require.ErrorAs(t, err, &unreadable)
	require.Equal(t, testEntries(3)[2].Stamp, unreadable.Resume)
}
