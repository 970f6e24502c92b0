package tcp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

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
	if cerr := callerErr(ctx, err); cerr != nil {
		// The socket deadline was the caller's: report it as theirs.
		if errors.Is(cerr, context.DeadlineExceeded) {
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

// callerErr is ctx's error when err is due to ctx ending. The socket
// deadline copied from ctx can fire a moment before ctx itself reports
// DeadlineExceeded, so a timeout at or past ctx's deadline counts too.
func callerErr(ctx context.Context, err error) error {
	if ctx == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
