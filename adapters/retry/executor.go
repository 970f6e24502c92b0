// Package retry runs operations against peers under the resilience policies
// of DESIGN.md: retries with exponential backoff and jitter for transient
// errors only, a circuit breaker per peer and a timeout per attempt, all
// built on failsafe-go. Retries and breaker state changes are logged and
// reported to an Observer (the telemetry layer counts them).
package retry

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Observer receives the events worth counting. Implementations must be safe
// for concurrent use and must not block.
type Observer interface {
	OnRetry(peer string)
	// OnBreakerState reports a transition to "open", "half-open" or "closed".
	OnBreakerState(peer, state string)
}

type nopObserver struct{}

func (nopObserver) OnRetry(string)                {}
func (nopObserver) OnBreakerState(string, string) {}

// Options configures an Executor. Zero values take the defaults noted.
type Options struct {
	// RetryAttempts is the total number of attempts (Network.RetryAttempts);
	// values below 1 mean a single attempt.
	RetryAttempts int
	// RetryDelayMs is the first backoff delay; it doubles on each retry up to
	// MaxDelay, with ±25 % jitter. 0 retries at once.
	RetryDelayMs int
	// MaxDelay caps the backoff (default 30 s).
	MaxDelay time.Duration
	// AttemptTimeout bounds each attempt (0: only the caller's context bounds it).
	AttemptTimeout time.Duration
	// BreakerFailures is the number of consecutive transient failures that
	// open a peer's breaker (default 5).
	BreakerFailures int
	// BreakerDelay is how long a breaker stays open before it lets one trial
	// call through (half-open) (default 30 s).
	BreakerDelay time.Duration
	// Observer counts retries and breaker transitions (default: none).
	Observer Observer
}

func (o Options) withDefaults() Options {
	if o.RetryAttempts < 1 {
		o.RetryAttempts = 1
	}
	if o.RetryDelayMs < 0 {
		o.RetryDelayMs = 0
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 30 * time.Second
	}
	if d := time.Duration(o.RetryDelayMs) * time.Millisecond; o.MaxDelay < d {
		o.MaxDelay = d
	}
	if o.BreakerFailures < 1 {
		o.BreakerFailures = 5
	}
	if o.BreakerDelay <= 0 {
		o.BreakerDelay = 30 * time.Second
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return o
}

// Executor implements ports.Executor. It is safe for concurrent use.
type Executor struct {
	opts   Options
	logger *zap.Logger

	mu    sync.Mutex
	peers map[string]*peerPolicies // guarded by mu
}

var _ ports.Executor = (*Executor)(nil)

// peerPolicies are the policies of one peer. The retry policy is per peer too
// so that its listeners know whom they are about.
type peerPolicies struct {
	retry   retrypolicy.RetryPolicy[any]
	breaker circuitbreaker.CircuitBreaker[any]
	timeout timeout.Timeout[any] // nil without AttemptTimeout
}

// New builds an Executor. A nil logger logs nothing.
func New(opts Options, logger *zap.Logger) *Executor {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Executor{
		opts:   opts.withDefaults(),
		logger: logger.Named("retry"),
		peers:  make(map[string]*peerPolicies),
	}
}

const opRun = "retry.Run"

// Run calls fn until it succeeds, fails with a non-transient error, the
// attempts are used up or ctx ends. Each attempt gets a context bounded by
// AttemptTimeout. The returned error keeps the cause's domain code; an
// attempt that timed out gives TIMEOUT_ERROR and an open breaker gives
// NETWORK_ERROR (errors.Is(err, circuitbreaker.ErrOpen) holds).
func (e *Executor) Run(ctx context.Context, peer string, fn func(ctx context.Context) error) error {
	p := e.policies(peer)
	policies := []failsafe.Policy[any]{p.retry, p.breaker}
	if p.timeout != nil {
		policies = append(policies, p.timeout)
	}
	err := failsafe.With[any](policies...).WithContext(ctx).RunWithExecution(func(exec failsafe.Execution[any]) error {
		return fn(exec.Context())
	})
	return e.translate(peer, err)
}

// RunOnce calls fn a single time under the peer's breaker and the attempt
// timeout, without retries: for requests on an open session, where a
// failure breaks the session and only a new dial could try again. Its
// failures count towards opening the breaker like Run's.
func (e *Executor) RunOnce(ctx context.Context, peer string, fn func(ctx context.Context) error) error {
	p := e.policies(peer)
	policies := []failsafe.Policy[any]{p.breaker}
	if p.timeout != nil {
		policies = append(policies, p.timeout)
	}
	err := failsafe.With[any](policies...).WithContext(ctx).RunWithExecution(func(exec failsafe.Execution[any]) error {
		return fn(exec.Context())
	})
	return e.translate(peer, err)
}

// BreakerOpen reports whether peer's breaker is open and still refusing
// calls. Once the open delay has passed it reports false, so that callers
// that skip open peers still make the trial call that can close it.
func (e *Executor) BreakerOpen(peer string) bool {
	e.mu.Lock()
	p, ok := e.peers[peer]
	e.mu.Unlock()
	return ok && p.breaker.IsOpen() && p.breaker.RemainingDelay() > 0
}

// BreakerState returns "closed", "open" or "half-open" for peer.
func (e *Executor) BreakerState(peer string) string {
	e.mu.Lock()
	p, ok := e.peers[peer]
	e.mu.Unlock()
	if !ok {
		return circuitbreaker.ClosedState.String()
	}
	return p.breaker.State().String()
}

func (e *Executor) translate(peer string, err error) error {
	if err == nil {
		return nil
	}
	var perm *permanentError
	if errors.As(err, &perm) && err == error(perm) {
		err = perm.err
	}
	var ne net.Error
	switch {
	case errors.Is(err, circuitbreaker.ErrOpen):
		return domain.Errorf(domain.CodeNetwork, opRun, "circuit breaker open for peer %s: %w", peer, err)
	case errors.Is(err, timeout.ErrExceeded):
		return domain.Errorf(domain.CodeTimeout, opRun, "peer %s: attempt exceeded %s: %w", peer, e.opts.AttemptTimeout, err)
	case domain.CodeOf(err) != domain.CodeInternal:
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return domain.Errorf(domain.CodeTimeout, opRun, "peer %s: %w", peer, err)
	case IsTransient(err):
		return domain.Errorf(domain.CodeNetwork, opRun, "peer %s: %w", peer, err)
	}
	return err
}

func (e *Executor) policies(peer string) *peerPolicies {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.peers[peer]; ok {
		return p
	}
	p := e.build(peer)
	e.peers[peer] = p
	return p
}

func (e *Executor) build(peer string) *peerPolicies {
	o := e.opts
	log := e.logger.With(zap.String("peer", peer))
	handle := func(_ any, err error) bool { return IsTransient(err) }

	rb := retrypolicy.NewBuilder[any]().
		HandleIf(handle).
		WithMaxAttempts(o.RetryAttempts).
		ReturnLastFailure().
		OnRetry(func(ev failsafe.ExecutionEvent[any]) {
			log.Debug("retrying", zap.Int("attempt", ev.Attempts()), zap.Error(ev.LastError()))
			o.Observer.OnRetry(peer)
		})
	if d := time.Duration(o.RetryDelayMs) * time.Millisecond; d > 0 {
		rb = rb.WithBackoff(d, o.MaxDelay).WithJitterFactor(0.25)
	}

	breaker := circuitbreaker.NewBuilder[any]().
		HandleIf(handle).
		WithFailureThreshold(uint(o.BreakerFailures)).
		WithSuccessThreshold(1).
		WithDelay(o.BreakerDelay).
		OnStateChanged(func(ev circuitbreaker.StateChangedEvent) {
			state := ev.NewState.String()
			if ev.NewState == circuitbreaker.OpenState {
				log.Warn("circuit breaker opened", zap.Duration("for", o.BreakerDelay))
			} else {
				log.Info("circuit breaker state changed", zap.String("from", ev.OldState.String()), zap.String("to", state))
			}
			o.Observer.OnBreakerState(peer, state)
		}).
		Build()

	p := &peerPolicies{retry: rb.Build(), breaker: breaker}
	if o.AttemptTimeout > 0 {
		p.timeout = timeout.New[any](o.AttemptTimeout)
	}
	return p
}
