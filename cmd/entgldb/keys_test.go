package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// authRecorder is a canned node that remembers the Authorization header
// of the last request.
type authRecorder struct {
	*cannedNode
	mu   sync.Mutex
	auth string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.auth = r.Header.Get("Authorization")
	a.mu.Unlock()
	a.cannedNode.ServeHTTP(w, r)
}

func (a *authRecorder) last() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.auth
}

func startAuthRecorder(t *testing.T) (*authRecorder, string) {
	t.Helper()
	n := &authRecorder{cannedNode: &cannedNode{answers: map[string]struct {
		status int
		body   string
	}{}}}
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	n.on("GET /v1/collections", 200, `{"collections":[]}`)
	return n, strings.TrimPrefix(srv.URL, "http://")
}

// writeLocalNode writes ./appsettings.json for a node whose database is in
// dir/data and its admin key there, as `entgldb serve` would keep it.
func writeLocalNode(t *testing.T, dir, key string) {
	t.Helper()
	cfg := map[string]any{"EntglDb": map[string]any{"Persistence": map[string]any{
		"DatabasePath": filepath.Join(dir, "data", "entgldb.db")}}}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "appsettings.json"), b, 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "admin.key"), []byte(key+"\n"), 0o600))
}

func TestTheCLIFindsItsKey(t *testing.T) {
	const fileKey = "egk_admin_the-admin-key-of-the-node-in-this-directory-0123"
	dir := t.TempDir()
	writeLocalNode(t, dir, fileKey)
	t.Chdir(dir)
	n, addr := startAuthRecorder(t)

	_, errOut, code := runCLI(t, "", "--node", addr, "collections")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "Bearer "+fileKey, n.last(), "the admin key file of the node configured here")

	t.Setenv(EnvAPIKey, "from-env")
	_, errOut, code = runCLI(t, "", "--node", addr, "collections")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "Bearer from-env", n.last())

	_, errOut, code = runCLI(t, "", "--node", addr, "--key", "from-flag", "collections")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "Bearer from-flag", n.last())
}

func TestTheAdminKeyFileStaysOnThisMachine(t *testing.T) {
	path := func() string { return "/nonexistent/admin.key" }
	for _, base := range []string{"http://10.1.2.3:5080", "http://db.example:5080", "https://192.168.1.4:5080"} {
		key, err := apiKey("", base, "", func() string { t.Fatal("the file is not even looked at"); return "" })
		require.NoError(t, err)
		require.Empty(t, key, base)
	}
	for _, base := range []string{"http://127.0.0.1:5080", "http://localhost:5080", "http://[::1]:5080"} {
		key, err := apiKey("", base, "", path)
		require.NoError(t, err, "a missing file is no error")
		require.Empty(t, key)
	}
	key, err := apiKey("", "http://10.1.2.3:5080", "env-key", path)
	require.NoError(t, err)
	require.Equal(t, "env-key", key, "an explicit key goes anywhere")
}

func TestAnOpenAdminKeyFileIsNotSent(t *testing.T) {
	dir := t.TempDir()
	writeLocalNode(t, dir, "egk_admin_the-admin-key-of-the-node-in-this-directory-0123")
	require.NoError(t, os.Chmod(filepath.Join(dir, "data", "admin.key"), 0o644))
	t.Chdir(dir)
	n, addr := startAuthRecorder(t)
	n.on("GET /v1/collections", 401, `{"error":{"code":"UNAUTHORIZED","message":"this route needs an API key"}}`)
	_, errOut, code := runCLI(t, "", "--node", addr, "collections")
	require.Equal(t, exitFailure, code)
	require.Empty(t, n.last())
	require.Contains(t, errOut, "chmod 600")
	require.Contains(t, errOut, "error UNAUTHORIZED: this route needs an API key (pass --key")
}

func TestKeysCommands(t *testing.T) {
	n, addr := startAuthRecorder(t)
	n.on("POST /v1/admin/keys", 201, `{"id":"0123456789abcdef","name":"app","scopes":["users:rw","orders:r"],"created_at":"2026-12-06T10:00:00Z","key":"egk_0123456789abcdef_SECRET"}`)
	n.on("GET /v1/admin/keys", 200, `{"keys":[{"id":"0123456789abcdef","name":"app","scopes":["users:rw","orders:r"],"created_at":"2026-12-06T10:00:00Z"},`+
		`{"id":"fedcba9876543210","name":"scraper","scopes":["metrics"],"created_at":"2026-12-06T11:00:00Z","last_used":"2026-12-06T12:00:00Z"}]}`)
	n.on("DELETE /v1/admin/keys/0123456789abcdef", 200, `{"id":"0123456789abcdef","revoked":true}`)
	n.on("DELETE /v1/admin/keys/nope", 404, `{"error":{"code":"NOT_FOUND","message":"no API key with id \"nope\""}}`)

	out, errOut, code := runCLI(t, "", "--node", addr, "--key", "k", "keys", "create", "--name", "app", "--scope", "users:rw,orders:r")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "egk_0123456789abcdef_SECRET\n", out, "stdout is the key alone, for scripts")
	require.Contains(t, errOut, "0123456789abcdef")

	out, errOut, code = runCLI(t, "", "--node", addr, "--key", "k", "keys", "list")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "ID                NAME     SCOPES             CREATED               LAST USED\n"+
		"0123456789abcdef  app      users:rw,orders:r  2026-12-06T10:00:00Z  -\n"+
		"fedcba9876543210  scraper  metrics            2026-12-06T11:00:00Z  2026-12-06T12:00:00Z\n", out)

	out, errOut, code = runCLI(t, "", "--node", addr, "--key", "k", "keys", "revoke", "0123456789abcdef")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "revoked 0123456789abcdef\n", out)
	_, errOut, code = runCLI(t, "", "--node", addr, "--key", "k", "keys", "revoke", "nope")
	require.Equal(t, exitNotFound, code)
	require.Contains(t, errOut, "NOT_FOUND")

	_, _, code = runCLI(t, "", "--node", addr, "keys", "create", "--name", "app")
	require.Equal(t, exitUsage, code, "a key needs scopes")
}
