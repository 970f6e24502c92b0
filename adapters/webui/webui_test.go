package webui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// MaxGzippedBytes is the dashboard's size budget (issue 21): every file,
// gzipped, together.
const MaxGzippedBytes = 150 << 10

func TestDashboardFitsItsSizeBudget(t *testing.T) {
	if !Included {
		t.Skip("built with -tags noui")
	}
	n, err := GzippedSize()
	require.NoError(t, err)
	require.Positive(t, n)
	require.LessOrEqual(t, n, MaxGzippedBytes, "the dashboard is %d bytes gzipped", n)
}

// The policy allows no inline script or style: the page must not need any.
func TestPagesNeedNoInlineScriptOrStyle(t *testing.T) {
	if !Included {
		t.Skip("built with -tags noui")
	}
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // a script element with a body
		regexp.MustCompile(`\son[a-z]+\s*=`),                // onclick= and friends
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`javascript:`),
	}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := fs.ReadFile(assets, p)
		require.NoError(t, err)
		for _, re := range inline {
			require.False(t, re.Match(b), "%s has inline code (%s)", p, re)
		}
		return nil
	})
	require.NoError(t, err)
	js, err := fs.ReadFile(assets, "assets/app.js")
	require.NoError(t, err)
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write", "localStorage", "sessionStorage"} {
		require.NotContains(t, string(js), banned, "app.js must build the page from text nodes and keep nothing in storage")
	}
}

type fakeKeys struct{ active bool }

func (f *fakeKeys) Authenticate(key string) (string, domain.Access, bool) {
	if key != "egk_good" {
		return "", domain.Access{}, false
	}
	return "k1", domain.AdminAccess(), true
}

func (f *fakeKeys) Active(string) bool { return f.active }

func TestSessionsEndWhenIdleOrOld(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	u, err := New(Options{Keys: &fakeKeys{active: true}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	signIn := func() *http.Cookie {
		req := httptest.NewRequest(http.MethodPost, "/ui/session", strings.NewReader(`{"key":"egk_good"}`))
		req.Header.Set(csrfHeader, "1")
		rec := httptest.NewRecorder()
		u.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return rec.Result().Cookies()[0]
	}
	lookup := func(c *http.Cookie) bool {
		req := httptest.NewRequest(http.MethodGet, "/v1/collections", nil)
		req.AddCookie(c)
		_, _, ok := u.Lookup(req)
		return ok
	}
	c := signIn()
	require.True(t, lookup(c))
	now = now.Add(SessionIdle - time.Minute)
	require.True(t, lookup(c), "used within the idle time")
	now = now.Add(SessionIdle + time.Minute)
	require.False(t, lookup(c), "idle too long")

	c = signIn()
	for range 2*SessionMax/SessionIdle + 1 {
		now = now.Add(SessionIdle / 2)
		lookup(c)
	}
	require.False(t, lookup(c), "older than SessionMax, however often used")
}

func TestSessionsAreBounded(t *testing.T) {
	u, err := New(Options{Keys: &fakeKeys{active: true}})
	require.NoError(t, err)
	for range MaxSessions + 10 {
		_, err := u.sessions.create("k1", domain.AdminAccess())
		require.NoError(t, err)
	}
	require.LessOrEqual(t, len(u.sessions.m), MaxSessions)
}

func TestARevokedKeysSessionEnds(t *testing.T) {
	keys := &fakeKeys{active: true}
	u, err := New(Options{Keys: keys})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/ui/session", strings.NewReader(`{"key":"egk_good"}`))
	req.Header.Set(csrfHeader, "1")
	rec := httptest.NewRecorder()
	u.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	c := rec.Result().Cookies()[0]
	get := httptest.NewRequest(http.MethodGet, "/v1/collections", nil)
	get.AddCookie(c)
	_, _, ok := u.Lookup(get)
	require.True(t, ok)

	keys.active = false
	_, _, ok = u.Lookup(get)
	require.False(t, ok)
	require.Empty(t, u.sessions.m, "the session is gone, not only refused")
}
