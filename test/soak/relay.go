package main

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relay is a man in the middle on one link of the mesh: a TCP proxy in the
// soak process that one node dials as its static peer for another node. It
// forwards faithfully (the sync must still work through it) and scans every
// byte, both ways, for the cluster secret and the key derived from it.
type relay struct {
	ln     net.Listener
	target string

	conns, dialErrs, bytesUp, bytesDown atomic.Int64
	secretSeen                          atomic.Int64

	needles [][]byte
	mu      sync.Mutex
	open    map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// startRelay listens on a loopback port and forwards each connection to
// target.
func startRelay(target string, needles ...[]byte) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, needles: needles, open: map[net.Conn]struct{}{}}
	r.wg.Go(r.accept)
	return r, nil
}

// Addr is where the relay listens.
func (r *relay) Addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.wg.Go(func() { r.forward(in) })
	}
}

// track registers c for close; false once the relay is closing.
func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = c.Close()
		return false
	}
	r.open[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	_ = c.Close()
	r.mu.Lock()
	delete(r.open, c)
	r.mu.Unlock()
}

func (r *relay) forward(in net.Conn) {
	if !r.track(in) {
		return
	}
	defer r.untrack(in)
	out, err := net.DialTimeout("tcp", r.target, 2*time.Second)
	if err != nil {
		r.dialErrs.Add(1) // the target is down or isolated: the dialer sees a reset
		return
	}
	if !r.track(out) {
		return
	}
	defer r.untrack(out)
	r.conns.Add(1)
	var both sync.WaitGroup
	both.Go(func() { r.pipe(out, in, &r.bytesUp) })
	r.pipe(in, out, &r.bytesDown)
	both.Wait()
}

// pipe copies src to dst through a scanner until either side ends, then
// closes both so the other direction ends too.
func (r *relay) pipe(dst, src net.Conn, n *atomic.Int64) {
	sc := newSecretScanner(r.needles...)
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			before := sc.hits
			_, _ = sc.Write(buf[:k])
			r.secretSeen.Add(int64(sc.hits - before))
			n.Add(int64(k))
			if _, werr := dst.Write(buf[:k]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = src.Close()
	_ = dst.Close()
}

// Close stops listening, cuts every forwarded connection and waits for
// the relay's goroutines.
func (r *relay) Close() error {
	err := r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.open {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
