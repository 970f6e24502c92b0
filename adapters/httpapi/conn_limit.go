package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxConnections caps the API's open connections when none is
// configured (Http.MaxConnections): each holds a descriptor and buffers,
// and a flood of idle keep-alive connections must not starve the process
// (the sync port, backups) of descriptors.
const DefaultMaxConnections = 1024

// connLimit keeps at most max connections open. At the cap a new one
// replaces the connection that has waited longest without a request in
// flight (idle keep-alive, or new and not yet sending), so idle floods
// cannot lock clients out; when every connection is busy the new one is
// closed at once.
type connLimit struct {
	max   int
	mu    sync.Mutex
	conns map[net.Conn]connEntry
}

type connEntry struct {
	busy  bool      // a request is in flight
	since time.Time // when it last became idle (or was accepted)
}

func newConnLimit(max int) *connLimit {
	l := &connLimit{conns: make(map[net.Conn]connEntry)}
	l.setMax(max)
	return l
}

// setMax changes the cap (<= 0: DefaultMaxConnections); connections over a
// lowered cap stay until they close.
func (l *connLimit) setMax(max int) {
	if max <= 0 {
		max = DefaultMaxConnections
	}
	l.mu.Lock()
	l.max = max
	l.mu.Unlock()
}

// admit counts c in, closing the longest idle connection to make room; it
// reports false when there is none to close (c is then the caller's to close).
func (l *connLimit) admit(c net.Conn) bool {
	l.mu.Lock()
	var victim net.Conn
	if len(l.conns) >= l.max {
		var oldest time.Time
		for vc, e := range l.conns {
			if !e.busy && (victim == nil || e.since.Before(oldest)) {
				victim, oldest = vc, e.since
			}
		}
		if victim == nil {
			l.mu.Unlock()
			return false
		}
		delete(l.conns, victim)
	}
	l.conns[c] = connEntry{since: time.Now()}
	l.mu.Unlock()
	if victim != nil {
		// The server sees the read fail and reports it closed. A TLS
		// connection is closed underneath: tls.Conn.Close would first
		// write an alert, which a client that reads nothing can stall.
		if tc, ok := victim.(interface{ NetConn() net.Conn }); ok {
			victim = tc.NetConn()
		}
		_ = victim.Close()
	}
	return true
}

// track is the http.Server's ConnState hook.
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.conns[c]
	if !ok {
		return // evicted already
	}
	switch state {
	case http.StateActive:
		e.busy = true
	case http.StateIdle:
		e.busy, e.since = false, time.Now()
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
		return
	}
	l.conns[c] = e
}

// open is how many connections are counted in.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// limitListener admits accepted connections through a connLimit.
type limitListener struct {
	net.Listener
	limit *connLimit
}

func (l limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.limit.admit(c) {
			return c, nil
		}
		_ = c.Close() // every connection is busy: refuse this one
	}
}
