package tcp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"

	"github.com/entgldb/entgldb-go/domain"
)

// transportErr gives a socket-level error its domain code at the boundary:
// a passed deadline is TIMEOUT_ERROR, the caller's cancellation stays
// visible to errors.Is, anything else is NETWORK_ERROR. An error that
// already has a domain code keeps it.
func transportErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		// We cut the socket's deadline because the caller gave up.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return domain.Errorf(domain.CodeTimeout, op, "%w (%v)", context.DeadlineExceeded, err)
		}
		return domain.Errorf(domain.CodeNetwork, op, "%w (%v)", context.Canceled, err)
	}
	if domain.CodeOf(err) != domain.CodeInternal {
		return domain.Wrap(domain.CodeNetwork, op, err)
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &domain.Error{Code: domain.CodeTimeout, Op: op, Msg: "peer did not answer in time", Err: err}
	}
	if errors.Is(err, io.EOF) {
		return &domain.Error{Code: domain.CodeNetwork, Op: op, Msg: "peer closed the connection", Err: err}
	}
	return &domain.Error{Code: domain.CodeNetwork, Op: op, Err: err}
}

// isClosedConn reports errors that only say the connection ended, which a
// server logs quietly.
func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// isTimeout reports a passed socket deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
