package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// DialSession opens a session from a node named client to a node named
// server whose requests h answers, over the adapter under test. It owns
// the cleanup of whatever it starts (servers, dialers, networks).
type DialSession func(t *testing.T, server, client string, h ports.SyncHandler) ports.PeerSession

const (
	sessionServer = "server-node"
	sessionClient = "client-node"
)

// sessionCase is one named behaviour of the ports.PeerSession contract.
type sessionCase struct {
	name string
	run  func(t *testing.T, dial DialSession)
}

// RunPeerSessionSuite runs the ports.PeerSession contract against sessions
// made by dial: a session returns what the peer's handler answers, and
// reports failures with the codes the sync engine acts on. The choices the
// TCP adapter makes where the port's comments are silent (a failed request
// breaks the session, a refused push does not) are fixed here, so an
// in-memory network cannot drift from the wire.
func RunPeerSessionSuite(t *testing.T, dial DialSession) {
	for _, c := range sessionCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, dial) })
	}
}

var sessionCases = []sessionCase{
	{"PeerID is the server's node id", func(t *testing.T, dial DialSession) {
		s := dial(t, sessionServer, sessionClient, newScriptedHandler())
		require.Equal(t, sessionServer, s.PeerID())
	}},

	{"GetClock returns the handler's clock and marks the peer as asking", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		s := dial(t, sessionServer, sessionClient, h)
		ts, err := s.GetClock(context.Background())
		require.NoError(t, err)
		require.Equal(t, h.clock, ts)
		peer := h.peerSeen(requestClock, 0)
		require.Equal(t, sessionClient, peer.NodeID)
		require.True(t, peer.AskedClock)
	}},

	{"GetVectorClock returns the handler's clock, each stamp's node its author", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		s := dial(t, sessionServer, sessionClient, h)
		vc, err := s.GetVectorClock(context.Background())
		require.NoError(t, err)
		want := domain.VectorClock{}
		for author, ts := range h.vc {
			ts.Node = author
			want[author] = ts
		}
		require.Equal(t, want, vc)
		require.True(t, h.peerSeen(requestVectorClock, 0).AskedClock)
	}},

	{"PullChanges carries the request and returns the handler's page", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		s := dial(t, sessionServer, sessionClient, h)
		req := ports.PullRequest{Collections: []string{"users", "orders"}}
		page, err := s.PullChanges(context.Background(), req)
		require.NoError(t, err)
		require.Equal(t, onWire(h.page), onWire(page))
		for _, e := range page {
			require.Zero(t, e.Seq, "a local sequence number crossed the wire")
		}
		require.Equal(t, req, h.firstPull())
		peer := h.peerSeen(requestPull, 0)
		require.Equal(t, sessionClient, peer.NodeID)
		require.False(t, peer.AskedClock, "the peer has not asked for a clock yet")

		// The next page, after asking for a clock: the handler sees both.
		_, err = s.GetVectorClock(context.Background())
		require.NoError(t, err)
		since := domain.Timestamp{Wall: baseWall + 3, Logical: 2, Node: "author-a"}
		page, err = s.PullChanges(context.Background(), ports.PullRequest{Since: since})
		require.NoError(t, err)
		require.Empty(t, page)
		require.Equal(t, since, h.pullSince(since).Since)
		require.True(t, h.lastPeer(requestPull).AskedClock)
	}},

	{"PushChanges hands the entries over and returns snapshotRequired", func(t *testing.T, dial DialSession) {
		for _, want := range []bool{false, true} {
			h := newScriptedHandler()
			h.pushSnapshot = want
			s := dial(t, sessionServer, sessionClient, h)
			entries := sessionEntries("author-c", 3)
			snapshot, err := s.PushChanges(context.Background(), entries)
			require.NoError(t, err)
			require.Equal(t, want, snapshot)
			require.Equal(t, onWire(entries), onWire(h.pushedEntries()))
			require.Equal(t, sessionClient, h.peerSeen(requestPush, 0).NodeID)
		}
	}},

	{"a refused push is a SYNC_ERROR and the session stays usable", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		h.fail = requestPush
		s := dial(t, sessionServer, sessionClient, h)
		_, err := s.PushChanges(context.Background(), sessionEntries("author-c", 1))
		require.Equal(t, domain.CodeSync, domain.CodeOf(err), "%v", err)
		require.False(t, errors.Is(err, domain.ErrPersistence), "the handler's code crossed the wire: %v", err)
		_, err = s.GetClock(context.Background())
		require.NoError(t, err)
	}},

	{"GetChainRange carries the hashes and returns entries and snapshotRequired", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		s := dial(t, sessionServer, sessionClient, h)
		entries, snapshot, err := s.GetChainRange(context.Background(), "start-hash", "end-hash")
		require.NoError(t, err)
		require.False(t, snapshot)
		require.Equal(t, onWire(h.chain), onWire(entries))
		_, snapshot, err = s.GetChainRange(context.Background(), "pruned", "end-hash")
		require.NoError(t, err)
		require.True(t, snapshot)
		require.Equal(t, [][2]string{{"start-hash", "end-hash"}, {"pruned", "end-hash"}}, h.rangesAsked())
	}},

	{"GetSnapshot returns the handler's snapshot", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		s := dial(t, sessionServer, sessionClient, h)
		sn, err := s.GetSnapshot(context.Background())
		require.NoError(t, err)
		require.Equal(t, h.snapshot, sn)
	}},

	{"a failed request is a NETWORK_ERROR and breaks the session", func(t *testing.T, dial DialSession) {
		requests := map[string]func(context.Context, ports.PeerSession) error{
			requestClock: func(ctx context.Context, s ports.PeerSession) error {
				_, err := s.GetClock(ctx)
				return err
			},
			requestVectorClock: func(ctx context.Context, s ports.PeerSession) error {
				_, err := s.GetVectorClock(ctx)
				return err
			},
			requestPull: func(ctx context.Context, s ports.PeerSession) error {
				_, err := s.PullChanges(ctx, ports.PullRequest{})
				return err
			},
			requestChainRange: func(ctx context.Context, s ports.PeerSession) error {
				_, _, err := s.GetChainRange(ctx, "a", "b")
				return err
			},
			requestSnapshot: func(ctx context.Context, s ports.PeerSession) error {
				_, err := s.GetSnapshot(ctx)
				return err
			},
		}
		for name, do := range requests {
			t.Run(name, func(t *testing.T) {
				h := newScriptedHandler()
				h.fail = name
				s := dial(t, sessionServer, sessionClient, h)
				err := do(context.Background(), s)
				require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
				require.False(t, errors.Is(err, domain.ErrPersistence), "the handler's code crossed the wire: %v", err)
				// The next request fails too, without reaching the handler.
				_, err = s.GetVectorClock(context.Background())
				require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
				require.Zero(t, h.callCount(requestVectorClock)-boolInt(name == requestVectorClock))
			})
		}
	}},

	{"cancelling the caller's context ends a request as NETWORK_ERROR", func(t *testing.T, dial DialSession) {
		h := blockingHandler()
		s := dial(t, sessionServer, sessionClient, h)
		defer close(h.block) // before the server stops: it may wait for the handler
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-h.entered
			cancel()
		}()
		_, err := s.GetClock(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
	}},

	{"a passed deadline ends a request as TIMEOUT_ERROR", func(t *testing.T, dial DialSession) {
		h := blockingHandler()
		s := dial(t, sessionServer, sessionClient, h)
		defer close(h.block) // before the server stops: it may wait for the handler
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := s.GetClock(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, domain.CodeTimeout, domain.CodeOf(err), "%v", err)
	}},

	{"Close ends the session and may be called again", func(t *testing.T, dial DialSession) {
		h := newScriptedHandler()
		s := dial(t, sessionServer, sessionClient, h)
		require.NoError(t, s.Close())
		_, err := s.GetClock(context.Background())
		require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
		require.Zero(t, h.callCount(requestClock))
		require.NoError(t, s.Close())
	}},
}

// blockingHandler's GetClock waits until its context ends or block closes.
func blockingHandler() *scriptedHandler {
	h := newScriptedHandler()
	h.block, h.entered = make(chan struct{}), make(chan struct{})
	return h
}

// onWire is what of entries crosses the wire: no local sequence number,
// and an empty body however it is held.
func onWire(es []domain.Entry) []domain.Entry {
	out := make([]domain.Entry, len(es))
	for i, e := range es {
		e.Seq = 0
		if len(e.Data) == 0 {
			e.Data = nil
		}
		out[i] = e
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
