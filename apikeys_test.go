package entgldb_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/client"
)

// A node with the HTTP API makes its admin key at the first start (0600
// beside the database) and answers only requests that carry a key; an
// embedder's node without the API keeps no key file.
func TestTheHTTPAPINeedsTheAdminKey(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg := entgldb.LocalConfig(dir)
	cfg.Http.Enabled, cfg.Http.Address = true, addr
	db, err := entgldb.Open(t.Context(), entgldb.Options{Config: cfg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	path := filepath.Join(dir, "admin.key")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	admin, err := apikeys.ReadAdminKey(path)
	require.NoError(t, err)

	get := func(key string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/collections", nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, get(""))
	require.Equal(t, http.StatusOK, get(admin))

	// The client makes, lists and revokes keys with the admin key.
	node := client.New(addr, client.WithKey(admin))
	made, err := node.CreateKey(t.Context(), "app", []string{"users:rw", "orders:r"})
	require.NoError(t, err)
	require.Equal(t, []string{"users:rw", "orders:r"}, made.Scopes)
	app := client.New(addr, client.WithKey(made.Secret))
	_, err = app.Put(t.Context(), "users", "u1", []byte(`{}`))
	require.NoError(t, err)
	_, err = app.Put(t.Context(), "orders", "o1", []byte(`{}`))
	require.ErrorIs(t, err, entgldb.ErrForbidden)
	_, err = app.Status(t.Context())
	require.ErrorIs(t, err, entgldb.ErrForbidden)
	keys, err := node.Keys(t.Context())
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, made.ID, keys[0].ID)
	require.NoError(t, node.RevokeKey(t.Context(), made.ID))
	_, err = app.Get(t.Context(), "users", "u1")
	require.ErrorIs(t, err, entgldb.ErrUnauthorized)
	_, err = node.CreateKey(t.Context(), "bad name", []string{"users:r"})
	require.ErrorIs(t, err, entgldb.ErrInvalidArgument)

	embedded := t.TempDir()
	other, err := entgldb.Open(t.Context(), entgldb.Options{Config: entgldb.LocalConfig(embedded)})
	require.NoError(t, err)
	require.NoError(t, other.Close())
	_, err = os.Stat(filepath.Join(embedded, "admin.key"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
