//go:build unix

package tcp

import (
	"errors"
	"net"
	"syscall"
)

// alive reports whether an idle connection is still open: a non-blocking
// peek must find nothing to read (EAGAIN). End of stream means the peer
// closed it; unsolicited bytes mean it is out of step. Either way, do not
// reuse it.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for readiness
	})
	// Only "nothing to read yet" means alive; a nil error means a byte or
	// end of stream.
	return err == nil && (errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK))
}
