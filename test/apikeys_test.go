package test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The operator's round trip on a running node: the CLI in the node's
// directory makes, lists and revokes keys with the admin key it finds
// itself; a made key can do what its scopes say and no more, and nothing
// once revoked; the key files are private and hold no key.
func TestKeysThroughTheCLI(t *testing.T) {
	n := newNode(t, nodeSpec{NodeID: "keys"})
	n.start()

	out, errOut, code := n.cli("keys", "create", "--name", "app", "--scope", "users:rw,orders:r")
	require.Equal(t, 0, code, errOut)
	key := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(key, "egk_"), key)
	id := strings.Split(key, "_")[1]
	data := filepath.Dir(n.DBPath)
	requirePrivate(t, filepath.Join(data, "admin.key"))
	requirePrivate(t, filepath.Join(data, "api-keys.json"))
	raw, err := os.ReadFile(filepath.Join(data, "api-keys.json"))
	require.NoError(t, err)
	require.Contains(t, string(raw), id)
	require.NotContains(t, string(raw), key[len("egk_")+len(id)+1:], "the file holds hashes only")

	out, errOut, code = n.cli("keys", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, id)
	require.Contains(t, out, "users:rw,orders:r")
	require.NotContains(t, out, key)

	// Elsewhere (the test's directory: no admin key to find), with the key.
	asApp := func(args ...string) (string, string, int) {
		return runCLI(t, append([]string{"--node", n.HTTPAddr, "--key", key}, args...)...)
	}
	_, errOut, code = asApp("put", "users", "ada", `{"name":"Ada"}`)
	require.Equal(t, 0, code, errOut)
	out, errOut, code = asApp("get", "users", "ada")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"name":"Ada"}`, out)
	_, errOut, code = asApp("put", "orders", "o1", `{}`)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "error FORBIDDEN:")
	_, errOut, code = asApp("status")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "error FORBIDDEN:")

	_, errOut, code = runCLI(t, "--node", n.HTTPAddr, "get", "users", "ada")
	require.Equal(t, 1, code, "no key at all")
	require.Contains(t, errOut, "error UNAUTHORIZED:")
	require.Contains(t, errOut, "--key")

	out, errOut, code = n.cli("keys", "revoke", id)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "revoked "+id, out)
	_, errOut, code = asApp("get", "users", "ada")
	require.Equal(t, 1, code, "revoked: refused at once, no restart")
	require.Contains(t, errOut, "error UNAUTHORIZED:")

	// Probes need no key; everything else does.
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 401, "/v1/collections": 401} {
		resp, err := http.Get("http://" + n.HTTPAddr + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}

	require.NotContains(t, n.Log(), n.AdminKey(), "the admin key is never logged")
}
