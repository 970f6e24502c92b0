package httpapi

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepAlive opens a connection, completes one request on it and leaves it
// open and idle, as a flood of keep-alive clients would.
func keepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	return idleAfterOneRequest(t, c)
}

// idleAfterOneRequest completes one request on c and leaves it idle.
func idleAfterOneRequest(t *testing.T, c net.Conn) net.Conn {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	_, err := io.WriteString(c, "GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return c
}

// Thousands of idle keep-alive connections never hold more than the cap
// open on the server, the oldest are closed for newcomers, and an ordinary
// request still gets through.
func TestIdleConnectionFloodStaysUnderTheCap(t *testing.T) {
	const maxConns, flood = 64, 2000
	s := NewServer("127.0.0.1:0", New(Options{Documents: newFakeDocs()}), nil)
	s.SetMaxConnections(maxConns)
	require.NoError(t, s.Start(t.Context()))
	defer func() { require.NoError(t, s.Stop(context.Background())) }()

	conns := make([]net.Conn, 0, flood)
	for range flood {
		conns = append(conns, keepAlive(t, s.Addr()))
		require.LessOrEqual(t, s.limit.open(), maxConns)
	}
	// The first connections were closed by the server to make room.
	require.NoError(t, conns[0].SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := conns[0].Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the oldest idle connection is closed by the server")

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + s.Addr() + "/v1/collections")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	client.CloseIdleConnections()
}

// When every connection has a request in flight, a new one is refused
// (closed) rather than queued; a slot frees when a request ends.
func TestBusyConnectionsRefuseNewOnes(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	s := NewServer("127.0.0.1:0", h, nil)
	s.SetMaxConnections(2)
	require.NoError(t, s.Start(t.Context()))
	defer func() { require.NoError(t, s.Stop(context.Background())) }()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	done := make(chan error, 2)
	for range 2 {
		go func() {
			resp, err := client.Get("http://" + s.Addr() + "/")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	<-entered
	<-entered
	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "a connection beyond the cap is closed at once")

	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
}
