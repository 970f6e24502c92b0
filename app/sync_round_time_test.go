package app

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// timingObserver keeps the round durations it is told.
type timingObserver struct {
	nopObserver
	mu     sync.Mutex
	rounds []bool // ok, per timed round
	total  time.Duration
}

func (o *timingObserver) SyncRoundTook(d time.Duration, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rounds = append(o.rounds, ok)
	o.total += d
}

// Each round's session with a peer is timed, successful or not, to the
// observer that counts rounds (the metrics' histogram).
func TestSyncRoundsTimed(t *testing.T) {
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{peers: []string{"a:1", "nobody:1"}})
	obs := &timingObserver{}
	b.status = NewStatusTracker(b.id, StatusOptions{Observer: obs})
	b.engine.status = b.status
	a.put(t, "c", "k", `{"v":1}`)

	began := time.Now()
	require.Error(t, b.engine.SyncNow(t.Context()), "nobody:1 is not there")
	took := time.Since(began)

	obs.mu.Lock()
	defer obs.mu.Unlock()
	assert.ElementsMatch(t, []bool{true, false}, obs.rounds)
	assert.Positive(t, obs.total)
	assert.LessOrEqual(t, obs.total, 2*took, "the sessions ran in parallel within SyncNow")
}
