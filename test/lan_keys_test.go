package test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
)

// The client API as it runs on a LAN (every interface, TLS on, the
// certificate pinned), through the real process: every route × {no key, a
// wrong key, a key without the route's scope, a key with it}. The unit
// table (adapters/httpapi, TestEveryRouteChecksItsKey) proves every route
// the router has is listed; this proves the node as deployed enforces it.
func TestLANNodeEveryRouteNeedsItsKey(t *testing.T) {
	n := startLANNode(t, map[string]any{"TLSAuto": true})
	fp := n.fingerprint()
	base := "https://" + n.loopback()
	ctx := t.Context()
	n.waitReady(client.New(base, client.WithPin(fp)))
	admin := client.New(base, client.WithPin(fp), client.WithKey(n.adminKey()))
	defer admin.CloseIdle()
	mk := func(scope string) string {
		k, err := admin.CreateKey(ctx, "k-"+strings.ReplaceAll(scope, ":", "-"), []string{scope})
		require.NoError(t, err)
		return k.Secret
	}
	usersRW, usersR, ordersR, metrics := mk("users:rw"), mk("users:r"), mk("orders:r"), mk("metrics")
	_, err := admin.Put(ctx, "users", "alice", []byte(`{"a":1}`))
	require.NoError(t, err)
	throwaway := mk("users:r")
	throwawayID := strings.Split(throwaway, "_")[1]

	call := func(method, path, body, key string) (int, string) {
		opts := []client.Option{client.WithPin(fp)}
		if key != "" {
			opts = append(opts, client.WithKey(key))
		}
		c := client.New(base, opts...)
		defer c.CloseIdle()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		resp, err := c.Do(cctx, method, path, b)
		require.NoError(t, err, "%s %s", method, path)
		return resp.Status, string(resp.Body)
	}
	wrong := "egk_0123456789abcdef_" + strings.Repeat("A", 43)
	rows := []struct {
		method, path, body string
		without, with      string // without: a valid key lacking the scope ("": any key may)
		status             int
	}{
		{"PUT", "/v1/collections/users/docs/alice", `{"a":2}`, usersR, usersRW, 200},
		{"GET", "/v1/collections/users/docs/alice", "", ordersR, usersR, 200},
		{"DELETE", "/v1/collections/users/docs/nobody", "", usersR, usersRW, 404},
		{"POST", "/v1/collections/users/batch", `{"put":{"b":{}}}`, usersR, usersRW, 200},
		{"GET", "/v1/collections/users/docs", "", ordersR, usersR, 200},
		{"GET", "/v1/collections/users/count", "", ordersR, usersR, 200},
		{"POST", "/v1/collections/users/find", `{"filter":{"a":1}}`, ordersR, usersR, 200},
		{"GET", "/v1/collections", "", "", usersR, 200},
		{"GET", "/v1/peers", "", usersRW, n.adminKey(), 200},
		{"GET", "/v1/status", "", usersRW, n.adminKey(), 200},
		{"POST", "/v1/admin/backup", "", usersRW, n.adminKey(), 200},
		{"POST", "/v1/admin/keys", `{"name":"x","scopes":["users:r"]}`, usersRW, n.adminKey(), 201},
		{"GET", "/v1/admin/keys", "", usersRW, n.adminKey(), 200},
		{"DELETE", "/v1/admin/keys/" + throwawayID, "", usersRW, n.adminKey(), 200},
		{"GET", "/metrics", "", usersRW, metrics, 200},
	}
	for _, r := range rows {
		name := r.method + " " + r.path
		status, body := call(r.method, r.path, r.body, "")
		require.Equal(t, http.StatusUnauthorized, status, "%s without a key: %s", name, body)
		status, body = call(r.method, r.path, r.body, wrong)
		require.Equal(t, http.StatusUnauthorized, status, "%s with a wrong key: %s", name, body)
		if r.without != "" {
			status, body = call(r.method, r.path, r.body, r.without)
			require.Equal(t, http.StatusForbidden, status, "%s with a key lacking the scope: %s", name, body)
		}
		status, body = call(r.method, r.path, r.body, r.with)
		require.Equal(t, r.status, status, "%s with the scope: %s", name, body)
	}
	// The change feed streams, so only its refusals are checked here (the
	// unit table checks it serves a key that may read).
	for _, key := range []string{"", wrong} {
		status, _ := call("GET", "/v1/changes", "", key)
		require.Equal(t, http.StatusUnauthorized, status)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		status, body := call("GET", probe, "", "")
		require.Equal(t, http.StatusOK, status, "%s needs no key: %s", probe, body)
	}
}
