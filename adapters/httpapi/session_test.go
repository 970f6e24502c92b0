package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/webui"
)

// browser sends requests as the dashboard does: the session cookie, and
// the CSRF header on writes unless told otherwise.
type browser struct {
	t      *testing.T
	n      *authNode
	cookie *http.Cookie
}

func (b *browser) do(method, path, body string, header map[string]string) (int, string, http.Header) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.n.base+path, rd)
	require.NoError(b.t, err)
	if method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "", resp.Header // a stream: its headers are the answer
	}
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(out), resp.Header
}

var csrf = map[string]string{CSRFHeader: "1"}

// signIn exchanges key for a session cookie, as the dashboard's sign-in does.
func signIn(t *testing.T, n *authNode, key string) *browser {
	t.Helper()
	b := &browser{t: t, n: n}
	status, body, h := b.do(http.MethodPost, "/ui/session", `{"key":"`+key+`"}`, csrf)
	require.Equal(t, http.StatusOK, status, body)
	resp := http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if c.Name == webui.CookieName {
			b.cookie = c
		}
	}
	require.NotNil(t, b.cookie, "no session cookie")
	return b
}

func TestSessionCookieNeverShowsTheKeyToScripts(t *testing.T) {
	n := newAuthNode(t)
	b := signIn(t, n, n.key("users:r"))
	require.True(t, b.cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, b.cookie.SameSite)
	require.Equal(t, "/", b.cookie.Path)
	require.False(t, b.cookie.Secure, "plain HTTP on loopback: a Secure cookie would never come back")
	require.NotContains(t, b.cookie.Value, "egk_")
}

func TestSessionCarriesTheKeysScopes(t *testing.T) {
	n := newAuthNode(t)
	_, err := n.docs.Put(t.Context(), "users", "alice", []byte(`{"a":1}`), nil)
	require.NoError(t, err)
	b := signIn(t, n, n.key("users:r"))

	status, body, _ := b.do(http.MethodGet, "/v1/collections/users/docs/alice", "", nil)
	require.Equal(t, http.StatusOK, status, body)
	status, body, _ = b.do(http.MethodGet, "/v1/collections/orders/docs", "", nil)
	require.Equal(t, http.StatusForbidden, status, body)
	status, body, _ = b.do(http.MethodPut, "/v1/collections/users/docs/alice", `{"a":2}`, csrf)
	require.Equal(t, http.StatusForbidden, status, body, "a read key's session may not write")
	status, body, _ = b.do(http.MethodGet, "/v1/status", "", nil)
	require.Equal(t, http.StatusForbidden, status, body)
	status, body, _ = b.do(http.MethodGet, "/ui/session", "", nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"scopes":["users:r"]`)
}

func TestSessionWritesNeedTheCSRFHeaderAndOwnOrigin(t *testing.T) {
	n := newAuthNode(t)
	b := signIn(t, n, n.admin)

	status, body, _ := b.do(http.MethodPut, "/v1/collections/users/docs/bob", `{"a":1}`, nil)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, CSRFHeader)
	status, body, _ = b.do(http.MethodDelete, "/v1/collections/users/docs/bob", "", nil)
	require.Equal(t, http.StatusForbidden, status, body)
	status, body, _ = b.do(http.MethodPut, "/v1/collections/users/docs/bob", `{"a":1}`,
		map[string]string{CSRFHeader: "1", "Origin": "http://evil.example"})
	require.Equal(t, http.StatusForbidden, status, body)

	host := strings.TrimPrefix(n.base, "http://")
	status, body, _ = b.do(http.MethodPut, "/v1/collections/users/docs/bob", `{"a":1}`,
		map[string]string{CSRFHeader: "1", "Origin": "http://" + host})
	require.Equal(t, http.StatusOK, status, body)

	// Sign-in itself wants the header too (no signing a victim in to another key).
	status, body, _ = (&browser{t: t, n: n}).do(http.MethodPost, "/ui/session", `{"key":"`+n.admin+`"}`, nil)
	require.Equal(t, http.StatusForbidden, status, body)
}

func TestSessionEndsWithItsKey(t *testing.T) {
	n := newAuthNode(t)
	info, key, err := n.store.Create("ui", []string{"*:rw"})
	require.NoError(t, err)
	b := signIn(t, n, key)
	status, body, _ := b.do(http.MethodGet, "/v1/collections", "", nil)
	require.Equal(t, http.StatusOK, status, body)

	require.NoError(t, n.store.Revoke(info.ID))
	status, body, _ = b.do(http.MethodGet, "/v1/collections", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, body)
	status, body, _ = b.do(http.MethodGet, "/ui/session", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, body)
}

func TestSignOutEndsTheSession(t *testing.T) {
	n := newAuthNode(t)
	b := signIn(t, n, n.admin)
	status, body, _ := b.do(http.MethodDelete, "/ui/session", "", csrf)
	require.Equal(t, http.StatusNoContent, status, body)
	status, body, _ = b.do(http.MethodGet, "/v1/collections", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, body)
}

func TestWrongKeyStartsNoSession(t *testing.T) {
	n := newAuthNode(t)
	b := &browser{t: t, n: n}
	status, body, h := b.do(http.MethodPost, "/ui/session", `{"key":"egk_nope"}`, csrf)
	require.Equal(t, http.StatusUnauthorized, status, body)
	require.Empty(t, h.Values("Set-Cookie"))
	// A made-up cookie is no session either.
	b.cookie = &http.Cookie{Name: webui.CookieName, Value: "made-up"}
	status, body, _ = b.do(http.MethodGet, "/v1/collections", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, body)
}

func TestDashboardPagesCarryAStrictPolicy(t *testing.T) {
	n := newAuthNode(t)
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/app.css"} {
		status, body, h := n.call(http.MethodGet, p, "", "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, webui.ContentSecurityPolicy, h.Get("Content-Security-Policy"))
		require.Contains(t, webui.ContentSecurityPolicy, "script-src 'self';")
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	}
	status, _, _ := n.call(http.MethodGet, "/ui/nothing.js", "", "")
	require.Equal(t, http.StatusNotFound, status)
	// The dashboard answers only the node's own names, as the API does.
	req, err := http.NewRequest(http.MethodGet, n.base+"/ui/", nil)
	require.NoError(t, err)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
}

func TestTheNodesAddressLeadsToTheDashboard(t *testing.T) {
	n := newAuthNode(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/": "/ui/", "/ui": "/ui/"} {
		resp, err := noFollow.Get(n.base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 3, resp.StatusCode/100, "%s: a redirect", path)
		require.Equal(t, want, resp.Header.Get("Location"), path)
	}
	// Other unknown paths still need a key before they say anything.
	status, _, _ := n.call(http.MethodGet, "/nothing", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
}
