package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cluster key never appears in logs (at Debug level, with a sync going
// on) nor in any status endpoint.
func TestClusterKeyNeverDisclosed(t *testing.T) {
	const secret = "do-not-print-me-4f1c9a"
	nodes := startMesh(t, 2, nodeSpec{NodeID: "s", AuthToken: secret, Secure: true})
	a, b := nodes[0], nodes[1]
	status, _, _ := a.httpDo(http.MethodPut, "/v1/collections/c/docs/k", []byte(`{"v":1}`))
	require.Equal(t, http.StatusOK, status)
	eventually(t, 10*time.Second, "the document on b", func() bool { return b.has("c", "k") })
	for _, n := range []*testNode{a, b} {
		for _, path := range []string{"/v1/status", "/v1/peers", "/healthz", "/metrics"} {
			_, body, _ := n.httpDo(http.MethodGet, path, nil)
			require.NotContains(t, string(body), secret, "%s on %s", path, n.HTTPAddr)
		}
	}
	require.Equal(t, 0, a.stop())
	require.Equal(t, 0, b.stop())
	for _, n := range []*testNode{a, b} {
		logs := n.Log()
		require.True(t, strings.Contains(logs, "entgldb node started"), "logs were captured")
		require.NotContains(t, logs, secret)
	}
}
