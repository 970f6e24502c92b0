package tcp

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// collectionsHandler is a fakeHandler that holds collections.
type collectionsHandler struct {
	*fakeHandler
	cols []string
}

func (h collectionsHandler) Collections(context.Context) ([]string, error) { return h.cols, nil }

// A family peer is told our collections as interests (a C# node on BLite
// pushes nothing to a peer announcing none); a Go peer only the configured ones.
func TestFamilyPeerToldOurCollections(t *testing.T) {
	h := collectionsHandler{fakeHandler: &fakeHandler{}, cols: []string{"orders", "users"}}
	srv := startServer(t, h, nil, legacyLoopback, func(o *ServerOptions) { o.Interests = []string{"users", "extra"} })
	r := dialRaw(t, srv.Addr().String())
	res := r.legacyHandshake(t, "csharp-a", testKey)
	require.True(t, res.GetAccepted())
	require.ElementsMatch(t, []string{"users", "extra", "orders"}, res.GetInterestingCollections())

	g := dialRaw(t, srv.Addr().String())
	res = g.handshake(t, clientIdentity)
	require.True(t, res.GetAccepted())
	require.Equal(t, []string{"users", "extra"}, res.GetInterestingCollections())
}

// A C# 2.x node handshakes once and reuses its connection: a family
// session outlives IdleTimeout (LegacyIdleTimeout), and GetVectorClock may
// be its first request; a Go session idle as long is cut.
func TestFamilySessionKeptAliveAcrossRounds(t *testing.T) {
	h := &fakeHandler{}
	srv := startServer(t, h, nil, legacyLoopback, func(o *ServerOptions) {
		o.IdleTimeout, o.LegacyIdleTimeout = 150*time.Millisecond, 5*time.Second
	})
	r := dialRaw(t, srv.Addr().String())
	require.True(t, r.legacyHandshake(t, "csharp-a", testKey).GetAccepted())
	for range 3 {
		time.Sleep(400 * time.Millisecond) // a round's pause, past IdleTimeout
		var vc pb.VectorClockResponse
		require.NoError(t, r.ch.Call(protocol.GetVectorClockReq, &pb.GetVectorClockRequest{}, protocol.VectorClockRes, &vc))
		require.Len(t, vc.GetEntries(), len(testVC))
	}
	g := dialRaw(t, srv.Addr().String())
	require.True(t, g.handshake(t, clientIdentity).GetAccepted())
	g.closedWithin(t, 2*time.Second)
}

// Operations go to each family peer in its own spelling: a client that
// never asked for a clock (the TypeScript node) is served "put"/"delete";
// one that asked is served "Put"/"Delete" until its pushes spell them
// otherwise.
func TestFamilyServerSpellsOperationsPerPeer(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil, legacyLoopback)
	ops := func(r *rawClient) []string {
		var cs pb.ChangeSetResponse
		require.NoError(t, r.ch.Call(protocol.PullChangesReq, &pb.PullChangesRequest{}, protocol.ChangeSetRes, &cs))
		var out []string
		for _, e := range cs.GetEntries() {
			out = append(out, e.GetOperation())
		}
		return out
	}
	ts := dialRaw(t, srv.Addr().String())
	ts.legacyHandshake(t, "ts-node", testKey)
	require.Equal(t, []string{"put", "put", "delete"}, ops(ts))

	cs := dialRaw(t, srv.Addr().String())
	cs.legacyHandshake(t, "csharp-a", testKey)
	var vc pb.VectorClockResponse
	require.NoError(t, cs.ch.Call(protocol.GetVectorClockReq, &pb.GetVectorClockRequest{}, protocol.VectorClockRes, &vc))
	require.Equal(t, []string{"Put", "Put", "Delete"}, ops(cs))
	push := protocol.EntriesToProtoSpelled(testEntries(1), protocol.SpellLower)
	var ack pb.AckResponse
	require.NoError(t, cs.ch.Call(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: push}, protocol.AckRes, &ack))
	require.Equal(t, []string{"put", "put", "delete"}, ops(cs), "learned from its push")
}

// familyServer answers like a 2.3.8 node: one answer of everything after
// since, ops in the spelling given, no answer to a clock request when mute.
func familyServer(t *testing.T, entries []*pb.ProtoOplogEntry, muteClock bool) (string, *sync.Map) {
	t.Helper()
	got := &sync.Map{}
	ln := listenLoopback(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ch := protocol.NewChannel(c, 1<<30)
				if _, _, err := ch.Recv(); err != nil {
					return
				}
				if ch.Send(protocol.HandshakeRes, &pb.HandshakeResponse{NodeId: "family", Accepted: true}) != nil {
					return
				}
				for {
					typ, payload, err := ch.Recv()
					if err != nil {
						return
					}
					switch typ {
					case protocol.GetClockReq:
						if !muteClock {
							_ = ch.Send(protocol.ClockRes, &pb.ClockResponse{})
						}
					case protocol.PullChangesReq:
						_ = ch.Send(protocol.ChangeSetRes, &pb.ChangeSetResponse{Entries: entries})
					case protocol.PushChangesReq:
						var req pb.PushChangesRequest
						_ = proto.Unmarshal(payload, &req)
						for _, e := range req.GetEntries() {
							got.Store(e.GetKey(), e.GetOperation())
						}
						_ = ch.Send(protocol.AckRes, &pb.AckResponse{Success: true})
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// Our dialer spells operations to a family peer as its entries do, and in
// the TypeScript spelling to one that answers no clock request.
func TestFamilyDialerLearnsSpelling(t *testing.T) {
	del := []domain.Entry{testEntries(2)[1]}
	for name, tc := range map[string]struct {
		served    []*pb.ProtoOplogEntry
		muteClock bool
		want      string
	}{
		"c# entries":         {protocol.EntriesToProto(testEntries(2)), false, "Delete"},
		"typescript entries": {protocol.EntriesToProtoSpelled(testEntries(2), protocol.SpellLower), false, "delete"},
		"no clock answered":  {nil, true, "delete"},
	} {
		t.Run(name, func(t *testing.T) {
			addr, got := familyServer(t, tc.served, tc.muteClock)
			o := dialerOpts(false)
			o.RequestTimeout = 300 * time.Millisecond
			legacyTo(&o, addr)
			d := newDialer(t, o, nil)
			s, err := d.Dial(t.Context(), addr)
			require.NoError(t, err)
			if tc.muteClock {
				_, err = s.GetClock(t.Context())
				require.Equal(t, domain.CodeTimeout, domain.CodeOf(err))
				require.NoError(t, s.Close())
				s, err = d.Dial(t.Context(), addr)
				require.NoError(t, err)
			} else {
				_, err = s.PullChanges(t.Context(), ports.PullRequest{})
				require.NoError(t, err)
			}
			_, err = s.PushChanges(t.Context(), del)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			op, _ := got.Load(del[0].Key)
			require.Equal(t, tc.want, op)
		})
	}
}

// A family peer's answer may exceed MaxFrameBytes up to MaxResponseBytes;
// beyond it the pull fails TOO_LARGE (and the engine pulls per collection).
func TestFamilyAnswerLimit(t *testing.T) {
	big := testEntries(40)
	for i := range big {
		big[i].Op, big[i].Data = domain.OpPut, []byte(`{"pad":"`+strings.Repeat("x", 10_000)+`"}`)
	}
	addr, _ := familyServer(t, protocol.EntriesToProto(big), false)
	for name, tc := range map[string]struct {
		limit int
		code  domain.Code
	}{"within": {1 << 20, ""}, "beyond": {300 << 10, domain.CodeTooLarge}} {
		t.Run(name, func(t *testing.T) {
			o := dialerOpts(false)
			o.MaxFrameBytes, o.MaxResponseBytes = 64<<10, tc.limit
			legacyTo(&o, addr)
			s, err := newDialer(t, o, nil).Dial(t.Context(), addr)
			require.NoError(t, err)
			defer s.Close()
			got, err := s.PullChanges(t.Context(), ports.PullRequest{})
			require.Equal(t, tc.code, domain.CodeOf(err))
			if tc.code == "" {
				require.Len(t, got, len(big))
			}
		})
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// A family peer's snapshot is a SnapshotDto in chunks of at most 80 KiB
// and then an empty is_last chunk, as a 2.3.8 node sends its own.
func TestFamilySnapshotChunkedAsTheFamilyDoes(t *testing.T) {
	h := &fakeHandler{snapshot: bigSnapshot()}
	srv := startServer(t, h, nil, legacyLoopback)
	r := dialRaw(t, srv.Addr().String())
	require.True(t, r.legacyHandshake(t, "csharp-a", testKey).GetAccepted())
	require.NoError(t, r.ch.Send(protocol.GetSnapshotReq, &pb.GetSnapshotRequest{}))
	var data []byte
	var chunks []int // their lengths
	for {
		typ, payload, err := r.ch.Recv()
		require.NoError(t, err)
		var c pb.SnapshotChunk
		require.NoError(t, protocol.DecodeInto(typ, protocol.SnapshotChunkMsg, payload, &c))
		require.LessOrEqual(t, len(c.GetData()), protocol.SnapshotChunkBytes)
		data = append(data, c.GetData()...)
		chunks = append(chunks, len(c.GetData()))
		if c.GetIsLast() {
			break
		}
	}
	require.Greater(t, len(chunks), 2)
	require.Zero(t, chunks[len(chunks)-1], "the last chunk is empty")
	require.True(t, protocol.IsSnapshotDto(data))
	sn, err := protocol.DecodeSnapshot(data)
	require.NoError(t, err)
	require.Len(t, sn.Documents, len(bigSnapshot().Documents))
}
