package tcp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// oplogHandler pages through a growing oplog like the app's SyncService:
// entries strictly after since's (wall, logic), three at a time.
type oplogHandler struct {
	fakeHandler
	mu      sync.Mutex
	oplog   []domain.Entry
	pullsAt []domain.Timestamp // every PullChanges call, read-ahead included
}

func (h *oplogHandler) PullChanges(_ context.Context, _ ports.PeerInfo, req ports.PullRequest) ([]domain.Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pullsAt = append(h.pullsAt, req.Since)
	var out []domain.Entry
	for _, e := range h.oplog {
		if e.Stamp.Wall > req.Since.Wall && len(out) < 3 {
			out = append(out, e)
		}
	}
	return out, nil
}

func (h *oplogHandler) PushChanges(_ context.Context, _ ports.PeerInfo, entries []domain.Entry) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.oplog = append(h.oplog, entries...)
	return false, nil
}

func (h *oplogHandler) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pullsAt)
}

func pullAll(t *testing.T, s ports.PeerSession, since domain.Timestamp) []domain.Entry {
	t.Helper()
	var all []domain.Entry
	for {
		page, err := s.PullChanges(context.Background(), ports.PullRequest{Since: since})
		require.NoError(t, err)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		since = page[len(page)-1].Stamp
	}
}

// A peer paging through the oplog gets each next page from the read ahead:
// one handler call per page, no more, and the same pages.
func TestPullReadAheadServesTheNextPage(t *testing.T) {
	h := &oplogHandler{oplog: testEntries(10)}
	srv := startServer(t, h, nil, func(o *ServerOptions) { o.Secure = true })
	d := newDialer(t, dialerOpts(true), nil)
	s, err := d.Dial(context.Background(), srv.Addr().String())
	require.NoError(t, err)
	defer s.Close()

	first, err := s.PullChanges(context.Background(), ports.PullRequest{})
	require.NoError(t, err)
	require.Len(t, first, 3)
	// The next page is read before it is asked for.
	waitFor(t, 2*time.Second, "the page after the first to be read ahead", func() bool { return h.calls() == 2 })
	got := append(first, pullAll(t, s, first[2].Stamp)...)
	require.Len(t, got, 10)
	for i := range got {
		assert.Equal(t, h.oplog[i].Hash, got[i].Hash)
	}
	// Pages of 3, 3, 3, 1 and the empty one: five calls, the last four read
	// ahead; none after the empty page.
	assert.Equal(t, 5, h.calls())
}

// A page read ahead is not served after a push (it may have changed what
// the page holds), nor for another cursor than the one it was read for.
func TestPullReadAheadDroppedWhenStale(t *testing.T) {
	h := &oplogHandler{oplog: testEntries(4)}
	srv := startServer(t, h, nil)
	d := newDialer(t, dialerOpts(false), nil)
	ctx := context.Background()
	s, err := d.Dial(ctx, srv.Addr().String())
	require.NoError(t, err)
	defer s.Close()

	first, err := s.PullChanges(ctx, ports.PullRequest{})
	require.NoError(t, err)
	require.Len(t, first, 3)
	// The page after first[2] (one entry) is read ahead; a push then adds
	// one more entry after it.
	waitFor(t, 2*time.Second, "the read ahead", func() bool { return h.calls() == 2 })
	more := testEntries(6)[4:5]
	more[0].Stamp.Wall += 100
	_, err = s.PushChanges(ctx, more)
	require.NoError(t, err)
	next, err := s.PullChanges(ctx, ports.PullRequest{Since: first[2].Stamp})
	require.NoError(t, err)
	require.Len(t, next, 2, "the pushed entry is in the page")
	assert.Equal(t, more[0].Key, next[1].Key)
	h.mu.Lock()
	assert.Equal(t, first[2].Stamp, h.pullsAt[2], "read afresh after the push")
	h.mu.Unlock()

	// Another cursor than the read ahead's: answered afresh.
	again, err := s.PullChanges(ctx, ports.PullRequest{})
	require.NoError(t, err)
	assert.Equal(t, first[0].Hash, again[0].Hash)
	assert.Len(t, again, 3)
}
