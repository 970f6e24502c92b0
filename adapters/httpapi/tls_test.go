package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/tlscert"
	"github.com/entgldb/entgldb-go/client"
)

// tlsServer starts the API over TLS with a fresh self-signed certificate.
func tlsServer(t *testing.T, maxConns int) (*Server, tlscert.Cert) {
	t.Helper()
	dir := t.TempDir()
	cert, created, err := tlscert.LoadOrCreateSelfSigned(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), []string{"127.0.0.1"})
	require.NoError(t, err)
	require.True(t, created)
	s := NewServer("127.0.0.1:0", New(Options{Documents: newFakeDocs()}), nil)
	s.SetTLS(tlscert.ServerConfig(cert))
	s.SetMaxConnections(maxConns)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	return s, cert
}

// tlsKeepAlive is keepAlive over TLS: a handshake, one request, then idle.
func tlsKeepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the cap, not the peer, is under test
	require.NoError(t, err)
	return idleAfterOneRequest(t, c)
}

// The connection cap holds with TLS: idle TLS connections beyond it close
// the oldest, a pinned client still gets through, and closed connections
// leave the count (the cap tracks the TLS connections the server sees).
func TestConnectionCapHoldsOverTLS(t *testing.T) {
	const maxConns, flood = 8, 100
	s, cert := tlsServer(t, maxConns)
	conns := make([]net.Conn, 0, flood)
	for range flood {
		conns = append(conns, tlsKeepAlive(t, s.Addr()))
		require.LessOrEqual(t, s.limit.open(), maxConns)
	}
	require.NoError(t, conns[0].SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := conns[0].Read(make([]byte, 1))
	require.Error(t, err, "the oldest idle connection is closed by the server")

	c := client.New("https://"+s.Addr(), client.WithPin(cert.Fingerprint))
	_, err = c.Collections(t.Context())
	require.NoError(t, err)
	c.CloseIdle()

	for _, conn := range conns {
		conn.Close()
	}
	require.Eventually(t, func() bool { return s.limit.open() == 0 }, 10*time.Second, 5*time.Millisecond,
		"every closed TLS connection leaves the count")
}

// The server speaks TLS 1.2 at least and HTTP/1.1 only.
func TestTLSServerRefusesOldVersionsAndHTTP2(t *testing.T) {
	s, _ := tlsServer(t, 0)
	_, err := tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec // probing the server
	require.Error(t, err)
	c, err := tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec // probing the server
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, "http/1.1", c.ConnectionState().NegotiatedProtocol)
}
