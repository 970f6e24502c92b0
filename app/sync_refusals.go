package app

import (
	"errors"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// ReplicationObserver receives the counts behind the refusal and
// replication metrics. The telemetry adapter's Metrics implements it.
type ReplicationObserver interface {
	// EntriesRefused counts n entries a peer sent that we refused, by cause
	// (a lowercase error code: a small, fixed set).
	EntriesRefused(cause string, n int)
	// PushRefused counts one push of ours a peer did not fully apply.
	PushRefused()
	// PeersFailing is how many peers' latest replication attempt failed.
	PeersFailing(n int)
}

type nopReplication struct{}

func (nopReplication) EntriesRefused(string, int) {}
func (nopReplication) PushRefused()               {}
func (nopReplication) PeersFailing(int)           {}

// refusalCause names why an entry was refused: the innermost error code,
// lowercase (clock_drift, invalid_argument, too_large, sync_error, ...).
// Codes are a fixed set, so the cause is safe as a metric label.
func refusalCause(err error) string {
	code := domain.CodeOf(err)
	for {
		var de *domain.Error
		if !errors.As(err, &de) || de.Err == nil {
			break
		}
		var inner *domain.Error
		if !errors.As(de.Err, &inner) {
			break
		}
		code, err = inner.Code, de.Err
	}
	return strings.ToLower(string(code))
}

// refusalLogEvery is how often one (peer, cause) pair may be logged and
// listed among the recent errors: a peer sending thousands of bad entries
// must not flood either.
const refusalLogEvery = time.Minute

// refusalReporter counts every refused entry and logs the first of each
// (peer, cause) per refusalLogEvery, with how many were held back since.
type refusalReporter struct {
	logger *zap.Logger
	status *StatusTracker // nil: counts in the log only
	now    func() time.Time

	mu   sync.Mutex
	seen map[refusalKey]*refusalWindow
}

type refusalKey struct{ peer, cause string }

type refusalWindow struct {
	logged     time.Time
	suppressed int
}

func newRefusalReporter(logger *zap.Logger, status *StatusTracker) *refusalReporter {
	return &refusalReporter{logger: logger, status: status, now: time.Now, seen: map[refusalKey]*refusalWindow{}}
}

// report records one refused entry from peer.
func (r *refusalReporter) report(peer string, err error) {
	cause := refusalCause(err)
	if r.status != nil {
		r.status.RecordRefused(peer, cause, 1)
	}
	suppressed, ok := r.allow(peer, cause)
	if !ok {
		return
	}
	r.logger.Warn("refused an entry from a peer", zap.String("peer", peer), zap.String("cause", cause),
		zap.Int("refused_since_last_logged", suppressed), zap.Error(err))
	if r.status != nil {
		r.status.RecordError(peer, err)
	}
}

// allow says whether (peer, cause) may be logged now, and how many
// refusals were held back since it last was.
func (r *refusalReporter) allow(peer, cause string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	k := refusalKey{peer, cause}
	w := r.seen[k]
	if w == nil {
		if len(r.seen) >= maxRefusalKeys {
			r.forgetOld(now)
		}
		r.seen[k] = &refusalWindow{logged: now}
		return 0, true
	}
	if now.Sub(w.logged) < refusalLogEvery {
		w.suppressed++
		return 0, false
	}
	n := w.suppressed
	w.logged, w.suppressed = now, 0
	return n, true
}

// maxRefusalKeys bounds the (peer, cause) pairs remembered.
const maxRefusalKeys = 4096

// forgetOld drops the pairs whose window has passed; call with mu held.
func (r *refusalReporter) forgetOld(now time.Time) {
	for k, w := range r.seen {
		if now.Sub(w.logged) >= refusalLogEvery {
			delete(r.seen, k)
		}
	}
}
