package memnet_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// pageHandler serves a fixed page and answers every other request empty.
type pageHandler struct{ page []domain.Entry }

func (h pageHandler) GetClock(context.Context, ports.PeerInfo) (domain.Timestamp, error) {
	return domain.Timestamp{Wall: 1}, nil
}
func (h pageHandler) PullChanges(context.Context, ports.PeerInfo, ports.PullRequest) ([]domain.Entry, error) {
	return h.page, nil
}
func (h pageHandler) PushChanges(context.Context, ports.PeerInfo, []domain.Entry) (bool, error) {
	return false, nil
}
func (h pageHandler) GetVectorClock(context.Context, ports.PeerInfo) (domain.VectorClock, error) {
	return domain.VectorClock{}, nil
}
func (h pageHandler) GetChainRange(context.Context, ports.PeerInfo, string, string) ([]domain.Entry, bool, error) {
	return nil, false, nil
}
func (h pageHandler) GetSnapshot(context.Context, ports.PeerInfo) (domain.Snapshot, error) {
	return domain.Snapshot{}, nil
}

func threeKeys() []domain.Entry {
	return []domain.Entry{{Collection: "c", Key: "a"}, {Collection: "c", Key: "b"}, {Collection: "c", Key: "c"}}
}

// reaches reports whether from can dial addr and get an answer.
func reaches(t *testing.T, n *memnet.Network, from, addr string) bool {
	t.Helper()
	s, err := n.Dialer(from).Dial(context.Background(), addr)
	if err != nil {
		require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
		return false
	}
	defer s.Close()
	_, err = s.GetClock(context.Background())
	return err == nil
}

func TestFaults(t *testing.T) {
	n := memnet.New()
	a := n.Listen("a:1", "a", pageHandler{})
	b := n.Listen("b:1", "b", pageHandler{})
	c := n.Listen("c:1", "c", pageHandler{})

	t.Run("nobody listening", func(t *testing.T) {
		require.False(t, reaches(t, n, "a", "nowhere:1"))
	})
	t.Run("node down and back", func(t *testing.T) {
		n.SetDown(b.Addr(), true)
		require.False(t, reaches(t, n, "a", b.Addr()))
		n.SetDown(b.Addr(), false)
		require.True(t, reaches(t, n, "a", b.Addr()))
	})
	t.Run("a cut link fails one way only", func(t *testing.T) {
		n.Cut("a", b.Addr(), true)
		require.False(t, reaches(t, n, "a", b.Addr()))
		require.True(t, reaches(t, n, "b", a.Addr()))
		n.Cut("a", b.Addr(), false)
		require.True(t, reaches(t, n, "a", b.Addr()))
	})
	t.Run("partition cuts both ways between the groups", func(t *testing.T) {
		n.Partition([]*memnet.Host{a}, []*memnet.Host{b, c}, true)
		require.False(t, reaches(t, n, "a", b.Addr()))
		require.False(t, reaches(t, n, "c", a.Addr()))
		require.True(t, reaches(t, n, "b", c.Addr()))
		n.Partition([]*memnet.Host{a}, []*memnet.Host{b, c}, false)
		require.True(t, reaches(t, n, "a", c.Addr()))
		require.True(t, reaches(t, n, "c", a.Addr()))
	})
	t.Run("an open session fails once its peer goes down", func(t *testing.T) {
		s, err := n.Dialer("a").Dial(context.Background(), b.Addr())
		require.NoError(t, err)
		n.SetDown(b.Addr(), true)
		_, err = s.GetClock(context.Background())
		require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
		n.SetDown(b.Addr(), false)
		_, err = s.GetClock(context.Background())
		require.Error(t, err, "a failed session stays failed")
	})
	t.Run("a closed host refuses dials and its sessions fail", func(t *testing.T) {
		s, err := n.Dialer("a").Dial(context.Background(), c.Addr())
		require.NoError(t, err)
		c.Close()
		require.False(t, reaches(t, n, "a", c.Addr()))
		_, err = s.GetClock(context.Background())
		require.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%v", err)
		// A node restarted at the same address answers new sessions.
		n.Listen(c.Addr(), "c", pageHandler{})
		require.True(t, reaches(t, n, "a", c.Addr()))
	})
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode               memnet.Mode
		clock, vectorClock bool // answered
	}{
		{memnet.ModeV5, true, true},
		{memnet.ModeV4, true, false},
		{memnet.ModePullOnly, false, false},
	} {
		n := memnet.New()
		h := n.Listen("b:1", "b", pageHandler{page: threeKeys()})
		h.SetMode(tc.mode)
		dial := func() ports.PeerSession {
			s, err := n.Dialer("a").Dial(context.Background(), "b:1")
			require.NoError(t, err)
			return s
		}
		_, err := dial().GetClock(context.Background())
		require.Equal(t, tc.clock, err == nil, "mode %d clock: %v", tc.mode, err)
		_, err = dial().GetVectorClock(context.Background())
		require.Equal(t, tc.vectorClock, err == nil, "mode %d vector clock: %v", tc.mode, err)
		if err != nil {
			require.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
		}
		page, err := dial().PullChanges(context.Background(), ports.PullRequest{})
		require.NoError(t, err, "every mode serves pulls")
		require.Len(t, page, 3)
		_, err = dial().PushChanges(context.Background(), threeKeys())
		require.NoError(t, err, "every mode takes pushes")
		require.Equal(t, int64(1), h.Pulls())
		require.Equal(t, int64(1), h.Pushes())
	}
}

func TestDropFromPulls(t *testing.T) {
	n := memnet.New()
	h := n.Listen("b:1", "b", pageHandler{page: threeKeys()})
	s, err := n.Dialer("a").Dial(context.Background(), "b:1")
	require.NoError(t, err)
	h.DropFromPulls(func(e domain.Entry) bool { return e.Key == "b" })

	page, err := s.PullChanges(context.Background(), ports.PullRequest{})
	require.NoError(t, err, "entries lost silently")
	require.Equal(t, []string{"a", "c"}, keys(page))

	h.RejectDropped(true)
	page, err = s.PullChanges(context.Background(), ports.PullRequest{})
	require.Equal(t, domain.CodeSync, domain.CodeOf(err), "%v", err)
	require.Equal(t, []string{"a", "c"}, keys(page), "the rest of the page flows beside the error")

	h.DropFromPulls(nil)
	page, err = s.PullChanges(context.Background(), ports.PullRequest{})
	require.NoError(t, err, "a page with entries rejected leaves the session usable")
	require.Len(t, page, 3)
}

func keys(es []domain.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

// blockedPull's PullChanges waits for release, then marks itself done.
type blockedPull struct {
	pageHandler
	entered, release chan struct{}
	done             atomic.Bool
}

func (h *blockedPull) PullChanges(context.Context, ports.PeerInfo, ports.PullRequest) ([]domain.Entry, error) {
	close(h.entered)
	<-h.release
	h.done.Store(true)
	return nil, nil
}

func TestCloseWaitsForRequestsInTheHandler(t *testing.T) {
	n := memnet.New()
	h := &blockedPull{entered: make(chan struct{}), release: make(chan struct{})}
	host := n.Listen("b:1", "b", h)
	s, err := n.Dialer("a").Dial(context.Background(), "b:1")
	require.NoError(t, err)
	pulled := make(chan error, 1)
	go func() {
		_, err := s.PullChanges(context.Background(), ports.PullRequest{})
		pulled <- err
	}()
	<-h.entered
	closed := make(chan struct{})
	go func() {
		host.Close()
		close(closed)
	}()
	// Once the host is off the network, Close is waiting for the pull.
	deadline := time.Now().Add(5 * time.Second)
	for reaches(t, n, "a", "b:1") {
		require.True(t, time.Now().Before(deadline), "host still listening")
		time.Sleep(time.Millisecond)
	}
	close(h.release)
	<-closed
	require.True(t, h.done.Load(), "Close returned before the handler did")
	require.NoError(t, <-pulled)
}

// peerRecorder remembers what the host's handler was told of its peer.
type peerRecorder struct {
	pageHandler
	peer ports.PeerInfo
}

func (h *peerRecorder) GetClock(_ context.Context, p ports.PeerInfo) (domain.Timestamp, error) {
	h.peer = p
	return domain.Timestamp{Wall: 1}, nil
}

// A node of the C#/TypeScript family makes its sessions legacy on both
// sides, as the TCP adapter does with Trust.LegacyPeers.
func TestLegacySessions(t *testing.T) {
	n := memnet.New()
	goH, csH := &peerRecorder{}, &peerRecorder{}
	n.Listen("go:1", "go", goH)
	n.Listen("cs:1", "cs", csH)
	n.SetLegacy("cs", true)
	dial := func(from, addr string, h *peerRecorder) (sessionLegacy, handlerLegacy bool) {
		s, err := n.Dialer(from).Dial(t.Context(), addr)
		require.NoError(t, err)
		defer s.Close()
		_, err = s.GetClock(t.Context())
		require.NoError(t, err)
		return s.(interface{ Legacy() bool }).Legacy(), h.peer.Legacy
	}
	s, h := dial("go", "cs:1", csH)
	require.True(t, s, "a session dialed to a legacy node")
	require.True(t, h, "the legacy node's handler sees a legacy session too")
	s, h = dial("cs", "go:1", goH)
	require.True(t, s)
	require.True(t, h, "the Go node's handler sees a legacy peer")
	n.SetLegacy("cs", false)
	s, h = dial("cs", "go:1", goH)
	require.False(t, s)
	require.False(t, h)
}
