package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/entgldb/entgldb-go/domain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	retries map[string]int
	states  []string
}

func (r *recorder) OnRetry(peer string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retries == nil {
		r.retries = map[string]int{}
	}
	r.retries[peer]++
}

func (r *recorder) OnBreakerState(peer, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, peer+":"+state)
}

func (r *recorder) snapshot() (map[string]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for k, v := range r.retries {
		m[k] = v
	}
	return m, append([]string(nil), r.states...)
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"broken pipe", syscall.EPIPE, true},
		{"unexpected eof", io.ErrUnexpectedEOF, true},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, true},
		{"domain timeout", domain.Errorf(domain.CodeTimeout, "x", "slow"), true},
		{"domain network", domain.Errorf(domain.CodeNetwork, "x", "down"), true},
		{"unauthorized", domain.Errorf(domain.CodeUnauthorized, "tcp.Dial", "cluster key rejected by peer"), false},
		{"permanent network", Permanent(domain.Errorf(domain.CodeNetwork, "x", "frame too large")), false},
		{"network wrapping refused, marked permanent", Permanent(syscall.ECONNREFUSED), false},
		{"sync error", domain.Errorf(domain.CodeSync, "x", "bad entry"), false},
		{"caller cancelled", context.Canceled, false},
		{"plain error", errors.New("boom"), false},
		{"breaker open", circuitbreaker.ErrOpen, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, IsTransient(tc.err))
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetriesTransientThenSucceeds(t *testing.T) {
	rec := &recorder{}
	ex := New(Options{RetryAttempts: 4, RetryDelayMs: 1, Observer: rec}, zaptest.NewLogger(t))
	calls := 0
	err := ex.Run(context.Background(), "p1", func(context.Context) error {
		calls++
		if calls < 3 {
			return &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
	retries, _ := rec.snapshot()
	assert.Equal(t, 2, retries["p1"])
	assert.False(t, ex.BreakerOpen("p1"))
}

func TestDoesNotRetryPermanent(t *testing.T) {
	rec := &recorder{}
	ex := New(Options{RetryAttempts: 5, RetryDelayMs: 1, Observer: rec}, nil)
	for _, perm := range []error{
		domain.Errorf(domain.CodeUnauthorized, "tcp.Dial", "cluster key rejected by peer"),
		Permanent(domain.Errorf(domain.CodeNetwork, "tcp.Dial", "peer speaks plaintext")),
		errors.New("not a network problem"),
	} {
		calls := 0
		err := ex.Run(context.Background(), "p1", func(context.Context) error {
			calls++
			return perm
		})
		require.Error(t, err)
		assert.Equal(t, 1, calls, "%v", perm)
		assert.Equal(t, domain.CodeOf(perm), domain.CodeOf(err))
		assert.False(t, IsPermanent(err), "the marker is removed from the returned error")
	}
	retries, _ := rec.snapshot()
	assert.Zero(t, retries["p1"])
}

func TestExhaustionKeepsCodeAndCause(t *testing.T) {
	ex := New(Options{RetryAttempts: 3}, nil)
	calls := 0
	cause := domain.Errorf(domain.CodeNetwork, "tcp.Send", "write: %w", syscall.ECONNRESET)
	err := ex.Run(context.Background(), "p1", func(context.Context) error {
		calls++
		return cause
	})
	assert.Equal(t, 3, calls)
	assert.True(t, errors.Is(err, domain.ErrNetwork))
	assert.True(t, errors.Is(err, syscall.ECONNRESET))

	// A foreign transient error gets a domain code on the way out.
	err = ex.Run(context.Background(), "p2", func(context.Context) error { return io.ErrUnexpectedEOF })
	assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF))
}

func TestPerAttemptTimeout(t *testing.T) {
	ex := New(Options{RetryAttempts: 2, AttemptTimeout: 20 * time.Millisecond}, nil)
	calls := 0
	start := time.Now()
	err := ex.Run(context.Background(), "slow", func(ctx context.Context) error {
		calls++
		<-ctx.Done() // a well-behaved operation gives up when its attempt's context ends
		return ctx.Err()
	})
	require.Error(t, err)
	assert.Equal(t, domain.CodeTimeout, domain.CodeOf(err))
	assert.Equal(t, 2, calls, "a timed-out attempt is transient and retried")
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestCallerCancellationStopsRetries(t *testing.T) {
	ex := New(Options{RetryAttempts: 100, RetryDelayMs: 5}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := ex.Run(ctx, "p", func(context.Context) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return syscall.ECONNREFUSED
	})
	require.Error(t, err)
	assert.Less(t, calls, 5)
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	rec := &recorder{}
	ex := New(Options{RetryAttempts: 1, BreakerFailures: 3, BreakerDelay: 50 * time.Millisecond, Observer: rec}, nil)
	down := func(context.Context) error { return &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED} }

	for range 3 {
		require.Error(t, ex.Run(context.Background(), "flaky", down))
	}
	require.True(t, ex.BreakerOpen("flaky"))
	assert.False(t, ex.BreakerOpen("other"), "breakers are per peer")
	require.NoError(t, ex.Run(context.Background(), "other", func(context.Context) error { return nil }))

	// While open, calls are refused without running fn.
	ran := false
	err := ex.Run(context.Background(), "flaky", func(context.Context) error { ran = true; return nil })
	require.Error(t, err)
	assert.False(t, ran)
	assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	assert.ErrorIs(t, err, circuitbreaker.ErrOpen)
	assert.Contains(t, err.Error(), "circuit breaker open")

	// After the delay one trial call goes through; its success closes the breaker.
	deadline := time.Now().Add(2 * time.Second)
	for ex.BreakerOpen("flaky") {
		require.True(t, time.Now().Before(deadline), "breaker never left the open state")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, ex.Run(context.Background(), "flaky", func(context.Context) error { return nil }))
	assert.Equal(t, "closed", ex.BreakerState("flaky"))

	_, states := rec.snapshot()
	assert.Equal(t, []string{"flaky:open", "flaky:half-open", "flaky:closed"}, states)
}

func TestPermanentErrorsDoNotOpenBreaker(t *testing.T) {
	ex := New(Options{RetryAttempts: 1, BreakerFailures: 2, BreakerDelay: time.Minute}, nil)
	for range 5 {
		_ = ex.Run(context.Background(), "p", func(context.Context) error {
			return domain.Errorf(domain.CodeUnauthorized, "tcp.Dial", "cluster key rejected by peer")
		})
	}
	assert.False(t, ex.BreakerOpen("p"))
}

func TestConcurrentPeers(t *testing.T) {
	ex := New(Options{RetryAttempts: 2}, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_ = ex.Run(context.Background(), fmt.Sprint("p", i%3), func(context.Context) error { return nil })
				_ = ex.BreakerOpen(fmt.Sprint("p", i%3))
			}
		}()
	}
	wg.Wait()
}

func TestRunOnceNeverRetriesButFeedsBreaker(t *testing.T) {
	rec := &recorder{}
	ex := New(Options{RetryAttempts: 5, BreakerFailures: 2, BreakerDelay: time.Minute, Observer: rec}, nil)
	calls := 0
	for range 2 {
		err := ex.RunOnce(context.Background(), "p", func(context.Context) error {
			calls++
			return syscall.ECONNRESET
		})
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	}
	assert.Equal(t, 2, calls)
	assert.True(t, ex.BreakerOpen("p"))
	retries, _ := rec.snapshot()
	assert.Zero(t, retries["p"])
}
