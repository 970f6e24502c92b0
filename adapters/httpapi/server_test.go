package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestServerLifecycle(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	docs := newFakeDocs()
	feed := newFakeFeed()
	api := New(Options{Documents: docs, Changes: feed, Heartbeat: time.Hour})
	s := NewServer("127.0.0.1:0", api, zap.New(core))
	assert.Empty(t, s.Addr())
	require.NoError(t, s.Start(t.Context()))
	addr := s.Addr()
	require.NotEmpty(t, addr)
	assert.Equal(t, 1, logs.FilterMessage("HTTP API listening").FilterField(zap.String("address", addr)).Len())

	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// An open change feed must not hold shutdown up.
	c := openFeed(t, "http://"+addr, "")
	_, err = c.next()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, s.Stop(ctx))
	assert.Less(t, time.Since(start), 2*time.Second)
	_, err = http.Get("http://" + addr + "/readyz")
	assert.Error(t, err, "no longer accepting")
	require.NoError(t, s.Stop(ctx), "second shutdown is harmless")
}

func TestServerPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	s := NewServer(ln.Addr().String(), http.NotFoundHandler(), nil)
	err = s.Start(t.Context())
	require.ErrorIs(t, err, domain.ErrNetwork)
	assert.Contains(t, err.Error(), ln.Addr().String())
	require.NoError(t, s.Stop(context.Background()), "shutdown of a server that never started")
}

func TestServerShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := NewServer("127.0.0.1:0", h, nil)
	require.NoError(t, s.Start(t.Context()))
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		resp, err := http.Get("http://" + s.Addr() + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Stop(ctx)
	require.ErrorIs(t, err, domain.ErrTimeout, "in-flight request cut off at the deadline")
	close(release)
	<-clientDone
}

func TestIsLoopback(t *testing.T) {
	assert.True(t, isLoopback(&net.TCPAddr{IP: net.ParseIP("127.0.0.1")}))
	assert.True(t, isLoopback(&net.TCPAddr{IP: net.ParseIP("::1")}))
	assert.False(t, isLoopback(&net.TCPAddr{IP: net.IPv4zero}))
	assert.False(t, isLoopback(&net.TCPAddr{IP: net.ParseIP("192.168.1.2")}))
}

// TestOversizedBodyOverASocket checks a client still gets the 413 (not a
// connection reset) when the server stops reading a far too large body.
func TestOversizedBodyOverASocket(t *testing.T) {
	api := New(Options{Documents: newFakeDocs()})
	s := NewServer("127.0.0.1:0", api, nil)
	require.NoError(t, s.Start(t.Context()))
	defer func() { require.NoError(t, s.Stop(context.Background())) }()

	body := `{"x":"` + strings.Repeat("a", 8<<20) + `"}`
	resp, err := http.Post("http://"+s.Addr()+"/v1/collections/c/docs/k", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "POST is not a document write")

	req, err := http.NewRequest(http.MethodPut, "http://"+s.Addr()+"/v1/collections/c/docs/k", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	var e errorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	assert.Equal(t, "TOO_LARGE", e.Error.Code)
}

// A DNS-rebinding page reaches the node under a foreign name: nothing but
// the probes may answer it.
func TestForeignHostIsRefused(t *testing.T) {
	docs := newFakeDocs()
	_, err := docs.Put(context.Background(), "users", "a", []byte(`{"n":1}`), nil)
	require.NoError(t, err)
	api := New(Options{Documents: docs, Health: func(context.Context) ports.HealthReport { return ports.HealthReport{IsHealthy: true} },
		AllowedHosts: []string{"Node1.LAN."}})
	for _, host := range []string{"evil.example", "evil.example:5080", "127.0.0.2", "localhost.evil.example", ""} {
		rec := do(t, api, "GET", "/v1/collections/users/docs/a", "", "Host", host)
		require.Equal(t, http.StatusMisdirectedRequest, rec.Code, "Host %q: %s", host, rec.Body)
		assert.Equal(t, "INVALID_ARGUMENT", errOf(t, rec).Code)
		rec = do(t, api, "POST", "/v1/collections/users/batch", `{"delete":["a"]}`, "Host", host)
		require.Equal(t, http.StatusMisdirectedRequest, rec.Code, "Host %q: %s", host, rec.Body)
		assert.Equal(t, http.StatusOK, do(t, api, "GET", "/healthz", "", "Host", host).Code, "probes answer any Host")
		assert.Equal(t, http.StatusOK, do(t, api, "GET", "/readyz", "", "Host", host).Code, "probes answer any Host")
	}
	for _, host := range []string{"localhost", "LOCALHOST:5080", "127.0.0.1:1", "[::1]:5080", "node1.lan:5080", "node1.lan"} {
		assert.Equal(t, http.StatusOK, do(t, api, "GET", "/v1/collections/users/docs/a", "", "Host", host).Code, "Host %q", host)
	}
}

func TestAllowedHostsFromAddress(t *testing.T) {
	assert.Equal(t, []string{"localhost", "127.0.0.1", "::1"}, AllowedHosts("0.0.0.0:5080", nil))
	assert.Equal(t, []string{"localhost", "127.0.0.1", "::1"}, AllowedHosts("[::]:5080", nil))
	assert.Equal(t, []string{"localhost", "127.0.0.1", "::1"}, AllowedHosts(":5080", nil))
	assert.Equal(t, []string{"localhost", "127.0.0.1", "::1", "192.168.1.5", "db.lan"}, AllowedHosts("192.168.1.5:5080", []string{"DB.lan"}))
}

// CORS is closed unless origins are configured: no Access-Control-Allow-*
// header by default, and preflights from other origins are refused.
func TestCORSClosedUnlessConfigured(t *testing.T) {
	noCORS := func(t *testing.T, h http.Header) {
		t.Helper()
		for name := range h {
			assert.NotContains(t, strings.ToLower(name), "access-control-allow", "header %s", name)
		}
	}
	preflight := func(api *API, origin string) *httptest.ResponseRecorder {
		return do(t, api, "OPTIONS", "/v1/collections/users/batch", "",
			"Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	}
	closed := New(Options{Documents: newFakeDocs()})
	rec := do(t, closed, "GET", "/v1/collections", "", "Origin", "https://evil.example")
	require.Equal(t, http.StatusOK, rec.Code)
	noCORS(t, rec.Header())
	rec = preflight(closed, "https://evil.example")
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	assert.Equal(t, "FORBIDDEN", errOf(t, rec).Code)
	noCORS(t, rec.Header())

	open := New(Options{Documents: newFakeDocs(), AllowedOrigins: []string{"https://app.example"}})
	rec = preflight(open, "https://app.example")
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	assert.Equal(t, "https://app.example", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Content-Type")
	rec = do(t, open, "GET", "/v1/collections", "", "Origin", "https://app.example")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "https://app.example", rec.Header().Get("Access-Control-Allow-Origin"))
	rec = preflight(open, "https://evil.example")
	require.Equal(t, http.StatusForbidden, rec.Code)
	noCORS(t, rec.Header())
}
