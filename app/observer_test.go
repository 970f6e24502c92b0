package app_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
)

// recordingObserver keeps the counts it is told.
type recordingObserver struct {
	mu       sync.Mutex
	written  int
	queueLen []int
}

func (o *recordingObserver) DocumentsWritten(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.written += n
}

func (o *recordingObserver) OfflineQueueLength(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queueLen = append(o.queueLen, n)
}

func (*recordingObserver) DocumentsApplied(int)              {}
func (*recordingObserver) SyncRound(string, bool)            {}
func (*recordingObserver) SyncRoundTook(time.Duration, bool) {}
func (*recordingObserver) BytesIn(int)                       {}
func (*recordingObserver) BytesOut(int)                      {}
func (*recordingObserver) ClockDriftRejected()               {}
func (*recordingObserver) PeersConnected(int)                {}

// The observer given to the constructors receives the counts from the
// first operation on: there is no setter to forget.
func TestObserverGivenAtConstruction(t *testing.T) {
	ctx := t.Context()
	obs := &recordingObserver{}

	e := newEnv(t, newSQLiteStore, 1<<20, app.DatabaseOptions{Observer: obs})
	_, err := e.db.Collection("c").Put(ctx, "k", []byte(`{}`))
	require.NoError(t, err)

	q := app.NewOfflineQueue(e.store, app.NewPeerClocks(nil), "nodeA", app.QueueOptions{Enabled: true, Observer: obs}, nil)
	q.Check(ctx)
	_, err = e.db.Collection("c").Put(ctx, "k2", []byte(`{}`))
	require.NoError(t, err)
	q.Check(ctx)

	obs.mu.Lock()
	defer obs.mu.Unlock()
	assert.Equal(t, 2, obs.written)
	assert.Equal(t, []int{1, 2}, obs.queueLen)
}
