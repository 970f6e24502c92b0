package app

import (
	"context"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// lockedSession serializes a session's calls between pullFrom's prefetch
// and the page being applied (which may ask a chain range or a snapshot):
// a session takes one request at a time. It wraps the session instead of
// embedding it, so no method can reach the session without the lock.
type lockedSession struct {
	mu sync.Mutex
	s  ports.PeerSession
}

var _ ports.PeerSession = (*lockedSession)(nil)

func lockSession(s ports.PeerSession) *lockedSession { return &lockedSession{s: s} }

func (l *lockedSession) PeerID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.PeerID()
}

func (l *lockedSession) GetClock(ctx context.Context) (domain.Timestamp, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.GetClock(ctx)
}

func (l *lockedSession) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.PullChanges(ctx, req)
}

func (l *lockedSession) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.PushChanges(ctx, entries)
}

func (l *lockedSession) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.GetVectorClock(ctx)
}

func (l *lockedSession) GetChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.GetChainRange(ctx, startHash, endHash)
}

func (l *lockedSession) GetSnapshot(ctx context.Context) (domain.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.GetSnapshot(ctx)
}

// Legacy forwards the session's legacy flag.
func (l *lockedSession) Legacy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Legacy()
}

func (l *lockedSession) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Close()
}
