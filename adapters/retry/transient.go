package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/entgldb/entgldb-go/domain"
)

// permanentError marks an error that must never be retried even though its
// code (often NETWORK_ERROR) would otherwise look transient: protocol
// violations, a secure/plaintext mismatch, a rejected handshake.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying; errors.Is/As and domain.CodeOf
// still see through it. A nil err gives nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// transientErrnos are the socket errors that a later attempt may not see:
// the peer is restarting, a route flapped, a connection was dropped.
var transientErrnos = []error{
	syscall.ECONNREFUSED,
	syscall.ECONNRESET,
	syscall.ECONNABORTED,
	syscall.EPIPE,
	syscall.ETIMEDOUT,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
}

// IsTransient reports whether err is worth another attempt: network timeouts,
// refused/reset connections, a connection cut mid-message, a per-attempt
// timeout, and domain TIMEOUT_ERROR / NETWORK_ERROR errors not marked
// Permanent. Everything else (unauthorized, invalid arguments, protocol
// violations marked Permanent, an open breaker, a cancelled caller) is not.
func IsTransient(err error) bool {
	switch {
	case err == nil, IsPermanent(err):
		return false
	case errors.Is(err, circuitbreaker.ErrOpen), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, timeout.ErrExceeded), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var de *domain.Error
	if errors.As(err, &de) {
		switch de.Code {
		case domain.CodeTimeout, domain.CodeNetwork:
			return true
		default:
			return false
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	for _, errno := range transientErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
