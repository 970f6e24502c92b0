package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/webui"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// authNode is an API with every route and a real key store, served on a
// loopback socket.
type authNode struct {
	t     *testing.T
	api   *API
	docs  *fakeDocs
	feed  *fakeFeed
	store *apikeys.Store
	base  string
	admin string
}

func newAuthNode(t *testing.T) *authNode {
	t.Helper()
	dir := t.TempDir()
	store, created, err := apikeys.Open(filepath.Join(dir, "api-keys.json"), filepath.Join(dir, "admin.key"))
	require.NoError(t, err)
	require.True(t, created)
	admin, err := apikeys.ReadAdminKey(filepath.Join(dir, "admin.key"))
	require.NoError(t, err)
	docs, feed := newFakeDocs(), newFakeFeed()
	docs.feed = feed
	ui, err := webui.New(webui.Options{Keys: store})
	require.NoError(t, err)
	api := New(Options{
		Documents: docs,
		Changes:   feed,
		Status:    func(context.Context) (ports.SyncStatus, error) { return ports.SyncStatus{NodeID: "n1"}, nil },
		Peers:     func(context.Context) ([]ports.PeerStatus, error) { return nil, nil },
		Health:    func(context.Context) ports.HealthReport { return ports.HealthReport{IsHealthy: true} },
		Ready:     func(context.Context) error { return nil },
		Backup:    func(context.Context) (string, int64, error) { return "/b/entgldb-1.db", 1, nil },
		Metrics:   prometheus.NewRegistry(),
		Keys:      store,
		Heartbeat: 50 * time.Millisecond,
		Views:     fakeViews(t),
		UI:        ui,
		Sessions:  ui,
	})
	srv := NewServer("127.0.0.1:0", api, nil)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(ctx))
	})
	return &authNode{t: t, api: api, docs: docs, feed: feed, store: store, base: "http://" + srv.Addr(), admin: admin}
}

// key makes a key with scopes through the store.
func (n *authNode) key(scopes ...string) string {
	n.t.Helper()
	_, key, err := n.store.Create("test", scopes)
	require.NoError(n.t, err)
	return key
}

// call sends a request with key (none when "") and returns status, body
// and headers. Streams (the change feed) are cut once the headers came.
func (n *authNode) call(method, path, body, key string) (int, string, http.Header) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, rd)
	require.NoError(n.t, err)
	if method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(n.t, err)
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "", resp.Header
	}
	b, err := io.ReadAll(resp.Body)
	require.NoError(n.t, err)
	return resp.StatusCode, string(b), resp.Header
}

// routeCase is one route of the scope table: a request to it, a valid key
// that lacks its scope ("": the route needs none) and one that has it,
// with the status the latter gets.
type routeCase struct {
	method, body string
	path         func() string
	without      string
	with         string
	status       int
}

// everyRoute is the scope table, keyed by the router's own patterns (a
// route added without a row fails the tests that use it), over documents
// users/alice and orders/o1; metrics is a key with the metrics scope only.
func everyRoute(t *testing.T, n *authNode) (rows map[string]routeCase, metrics string) {
	usersRW, usersR, ordersR, metrics := n.key("users:rw"), n.key("users:r"), n.key("orders:r"), n.key("metrics")
	_, err := n.docs.Put(t.Context(), "users", "alice", []byte(`{"a":1}`), nil)
	require.NoError(t, err)
	_, err = n.docs.Put(t.Context(), "orders", "o1", []byte(`{"o":1}`), nil)
	require.NoError(t, err)
	throwaway := func() string {
		info, _, err := n.store.Create("throwaway", []string{"users:r"})
		require.NoError(t, err)
		return info.ID
	}

	fixed := func(p string) func() string { return func() string { return p } }
	rows = map[string]routeCase{
		"PUT /v1/collections/{c}/docs/{key}":         {"PUT", `{"a":2}`, fixed("/v1/collections/users/docs/alice"), usersR, usersRW, 200},
		"GET /v1/collections/{c}/docs/{key}":         {"GET", "", fixed("/v1/collections/users/docs/alice"), ordersR, usersR, 200},
		"DELETE /v1/collections/{c}/docs/{key}":      {"DELETE", "", fixed("/v1/collections/users/docs/nobody"), usersR, usersRW, 404},
		"POST /v1/collections/{c}/batch":             {"POST", `{"put":{"b":{}}}`, fixed("/v1/collections/users/batch"), usersR, usersRW, 200},
		"GET /v1/collections/{c}/docs":               {"GET", "", fixed("/v1/collections/users/docs"), ordersR, usersR, 200},
		"GET /v1/collections/{c}/count":              {"GET", "", fixed("/v1/collections/users/count"), ordersR, usersR, 200},
		"POST /v1/collections/{c}/find":              {"POST", `{"filter":{"a":1}}`, fixed("/v1/collections/users/find"), ordersR, usersR, 200},
		"GET /v1/collections":                        {"GET", "", fixed("/v1/collections"), "", usersR, 200},
		"GET /v1/changes":                            {"GET", "", fixed("/v1/changes"), "", usersR, 200},
		"GET /v1/peers":                              {"GET", "", fixed("/v1/peers"), usersRW, n.admin, 200},
		"GET /v1/status":                             {"GET", "", fixed("/v1/status"), usersRW, n.admin, 200},
		"POST /v1/admin/backup":                      {"POST", "", fixed("/v1/admin/backup"), usersRW, n.admin, 200},
		"POST /v1/admin/keys":                        {"POST", `{"name":"x","scopes":["users:r"]}`, fixed("/v1/admin/keys"), usersRW, n.admin, 201},
		"GET /v1/admin/keys":                         {"GET", "", fixed("/v1/admin/keys"), usersRW, n.admin, 200},
		"DELETE /v1/admin/keys/{id}":                 {"DELETE", "", func() string { return "/v1/admin/keys/" + throwaway() }, usersRW, n.admin, 200},
		"GET /metrics":                               {"GET", "", fixed("/metrics"), usersRW, metrics, 200},
		"GET /healthz":                               {"GET", "", fixed("/healthz"), "", "", 200},
		"GET /v1/admin/node":                         {"GET", "", fixed("/v1/admin/node"), usersRW, n.admin, 200},
		"GET /v1/admin/replication":                  {"GET", "", fixed("/v1/admin/replication"), usersRW, n.admin, 200},
		"GET /v1/admin/chains":                       {"GET", "", fixed("/v1/admin/chains"), usersRW, n.admin, 200},
		"GET /v1/admin/backups":                      {"GET", "", fixed("/v1/admin/backups"), usersRW, n.admin, 200},
		"GET /v1/admin/backups/{kind}/{name}":        {"GET", "", fixed("/v1/admin/backups/manual/entgldb-1.db"), usersRW, n.admin, 200},
		"GET /v1/collections/{c}/docs/{key}/history": {"GET", "", fixed("/v1/collections/users/docs/alice/history"), ordersR, usersR, 200},
		"/ui/":        {"GET", "", fixed("/ui/"), "", "", 200},
		"GET /{$}":    {"GET", "", fixed("/"), "", "", 200}, // redirected to /ui/
		"GET /readyz": {"GET", "", fixed("/readyz"), "", "", 200},
	}
	return rows, metrics
}

// Every route × {no key, wrong key, a key without the scope, a key with
// it}.
func TestEveryRouteChecksItsKey(t *testing.T) {
	n := newAuthNode(t)
	rows, metrics := everyRoute(t, n)
	usersR, usersRW := n.key("users:r"), n.key("users:rw")
	for pattern := range n.api.needs {
		require.Contains(t, rows, pattern, "route %q has no row in this table", pattern)
	}
	for pattern, r := range rows {
		t.Run(pattern, func(t *testing.T) {
			require.Contains(t, n.api.needs, pattern, "a row for a route the API does not have")
			open := n.api.needs[pattern] == needNothing
			if open {
				for _, key := range []string{"", "wrong", usersR} {
					status, body, _ := n.call(r.method, r.path(), r.body, key)
					require.Equal(t, r.status, status, "%q: %s", key, body)
				}
				return
			}
			status, body, h := n.call(r.method, r.path(), r.body, "")
			require.Equal(t, http.StatusUnauthorized, status, body)
			require.Contains(t, body, `"code":"UNAUTHORIZED"`)
			require.Equal(t, realm, h.Get("WWW-Authenticate"))

			wrong := apikeys.Prefix + "0123456789abcdef_" + strings.Repeat("A", 43)
			for _, bad := range []string{wrong, usersRW + "x", n.admin[:len(n.admin)-1]} {
				status, body, h = n.call(r.method, r.path(), r.body, bad)
				require.Equal(t, http.StatusUnauthorized, status, body)
				require.Contains(t, h.Get("WWW-Authenticate"), `error="invalid_token"`)
			}

			if r.without != "" {
				status, body, h = n.call(r.method, r.path(), r.body, r.without)
				require.Equal(t, http.StatusForbidden, status, body)
				require.Contains(t, body, `"code":"FORBIDDEN"`)
				require.Contains(t, h.Get("WWW-Authenticate"), `error="insufficient_scope"`)
			} else {
				// Any valid key may list; it sees only what it may read (below).
				status, body, _ = n.call(r.method, r.path(), r.body, metrics)
				require.Equal(t, http.StatusOK, status, body)
			}

			status, body, _ = n.call(r.method, r.path(), r.body, r.with)
			require.Equal(t, r.status, status, body)
			status, body, _ = n.call(r.method, r.path(), r.body, n.admin)
			require.Less(t, status, 500, "admin may do everything: %s", body)
			require.NotEqual(t, http.StatusForbidden, status, body)
		})
	}
}

func TestMalformedAuthorizationIs401(t *testing.T) {
	n := newAuthNode(t)
	for _, h := range []string{"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", n.admin, "Token " + n.admin} {
		req, err := http.NewRequest(http.MethodGet, n.base+"/v1/collections", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, h)
	}
	// Unknown routes need a key before they say they do not exist.
	status, _, _ := n.call(http.MethodGet, "/v1/nothing-here", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = n.call(http.MethodGet, "/v1/nothing-here", "", n.admin)
	require.Equal(t, http.StatusNotFound, status)
}

func TestPublicMetrics(t *testing.T) {
	api := New(Options{Documents: newFakeDocs(), Metrics: prometheus.NewRegistry(), Keys: &apikeys.Store{}, PublicMetrics: true})
	require.Equal(t, needNothing, api.needs["GET /metrics"])
	rec := do(t, api, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestListsShowOnlyReadableCollections(t *testing.T) {
	n := newAuthNode(t)
	for _, c := range []string{"users", "orders", "secrets"} {
		_, err := n.docs.Put(t.Context(), c, "k", []byte(`{}`), nil)
		require.NoError(t, err)
	}
	cases := map[string][]string{
		"users:r":   {"users"},
		"*:r":       {"orders", "secrets", "users"},
		"metrics":   {},
		"orders:rw": {"orders"},
	}
	for scope, want := range cases {
		status, body, _ := n.call(http.MethodGet, "/v1/collections", "", n.key(scope))
		require.Equal(t, http.StatusOK, status)
		var got collectionsReply
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Equal(t, want, got.Collections, scope)
	}
	key := n.key("users:r")
	status, body, _ := n.call(http.MethodGet, "/v1/collections/orders/docs", "", key)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "orders:r")
	status, _, _ = n.call(http.MethodGet, "/v1/collections/orders/count", "", key)
	require.Equal(t, http.StatusForbidden, status)
	status, body, _ = n.call(http.MethodGet, "/v1/collections/users/count", "", key)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"count":1}`, body)
}

// openKeyedFeed opens /v1/changes with a key.
func (n *authNode) openKeyedFeed(query, key string) *feedClient {
	return openFeed(n.t, n.base, query, "Authorization", "Bearer "+key)
}

func TestChangeFeedShowsOnlyReadableCollections(t *testing.T) {
	n := newAuthNode(t)
	write := func(c, k string) {
		_, err := n.docs.Put(t.Context(), c, k, []byte(`{}`), nil)
		require.NoError(t, err)
	}
	write("orders", "before") // replayed with since=0, to the admin only
	write("users", "before")

	users := n.openKeyedFeed("?since=0", n.key("users:r"))
	admin := n.openKeyedFeed("?since=0", n.admin)
	require.Equal(t, http.StatusOK, users.resp.StatusCode)
	for i := range 3 {
		write("orders", "o"+string(rune('0'+i)))
		write("users", "u"+string(rune('0'+i)))
	}
	collectionOf := func(ev sseEvent) string {
		var ch changeEvent
		require.NoError(t, json.Unmarshal([]byte(ev.data), &ch))
		return ch.Collection
	}
	for range 4 { // users/before and u0..u2, in order, and no orders between
		require.Equal(t, "users", collectionOf(users.nextEvent()))
	}
	seen := map[string]int{}
	for range 8 {
		seen[collectionOf(admin.nextEvent())]++
	}
	require.Equal(t, map[string]int{"users": 4, "orders": 4}, seen)
}

func TestRevokedKeyStopsAtOnce(t *testing.T) {
	n := newAuthNode(t)
	status, body, _ := n.call(http.MethodPost, "/v1/admin/keys", `{"name":"app","scopes":["users:rw"]}`, n.admin)
	require.Equal(t, http.StatusCreated, status, body)
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	status, _, _ = n.call(http.MethodPut, "/v1/collections/users/docs/a", `{}`, created.Key)
	require.Equal(t, http.StatusOK, status)
	feed := n.openKeyedFeed("", created.Key)
	require.Equal(t, http.StatusOK, feed.resp.StatusCode)

	status, body, _ = n.call(http.MethodGet, "/v1/admin/keys", "", n.admin)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, created.ID)
	require.NotContains(t, body, created.Key, "a list shows no secret")
	require.NotContains(t, body, "sha256", "nor a hash")

	status, body, _ = n.call(http.MethodDelete, "/v1/admin/keys/"+created.ID, "", n.admin)
	require.Equal(t, http.StatusOK, status, body)
	status, _, _ = n.call(http.MethodPut, "/v1/collections/users/docs/a", `{}`, created.Key)
	require.Equal(t, http.StatusUnauthorized, status, "the next request after the revocation is refused")

	// The open feed ends at its next heartbeat with an UNAUTHORIZED event.
	for {
		ev, err := feed.next()
		require.NoError(t, err, "the feed ends with an error event, not silently")
		if ev.event == "error" {
			require.Contains(t, ev.data, "UNAUTHORIZED")
			break
		}
	}
	status, _, _ = n.call(http.MethodDelete, "/v1/admin/keys/"+created.ID, "", n.admin)
	require.Equal(t, http.StatusNotFound, status)
	status, body, _ = n.call(http.MethodDelete, "/v1/admin/keys/admin", "", n.admin)
	require.Equal(t, http.StatusBadRequest, status, body)
}

func TestKeyRequestsThatAreRefused(t *testing.T) {
	n := newAuthNode(t)
	for _, body := range []string{
		``, `{`, `[]`, `{"name":"app"}`, `{"name":"app","scopes":[]}`, `{"name":"app","scopes":["users"]}`,
		`{"name":"app","scopes":["users:x"]}`, `{"name":"","scopes":["users:r"]}`, `{"name":"a b","scopes":["users:r"]}`,
		`{"name":"app","scopes":["users:r"],"extra":1}`, `{"name":"app","scopes":["_sys:r"]}`,
	} {
		status, resp, _ := n.call(http.MethodPost, "/v1/admin/keys", body, n.admin)
		require.Equal(t, http.StatusBadRequest, status, "%s → %s", body, resp)
		require.Contains(t, resp, string(domain.CodeInvalidArgument))
	}
	status, body, _ := n.call(http.MethodGet, "/v1/admin/keys", "", n.admin)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"keys":[]}`, body)
}

// The same table through the dashboard's session cookie: a session is
// refused exactly where its key is, and gets what its key gets.
func TestEveryRouteChecksASessionsKey(t *testing.T) {
	n := newAuthNode(t)
	rows, _ := everyRoute(t, n)
	sessions := map[string]*browser{}
	session := func(t *testing.T, key string) *browser {
		if sessions[key] == nil {
			sessions[key] = signIn(t, n, key)
		}
		return &browser{t: t, n: n, cookie: sessions[key].cookie}
	}
	for pattern, r := range rows {
		if n.api.needs[pattern] == needNothing {
			continue
		}
		t.Run(pattern, func(t *testing.T) {
			if r.without != "" {
				status, body, _ := session(t, r.without).do(r.method, r.path(), r.body, csrf)
				require.Equal(t, http.StatusForbidden, status, body)
			}
			status, body, _ := session(t, r.with).do(r.method, r.path(), r.body, csrf)
			require.Equal(t, r.status, status, body)
			status, body, _ = (&browser{t: t, n: n}).do(r.method, r.path(), r.body, csrf)
			require.Equal(t, http.StatusUnauthorized, status, "no session: %s", body)
		})
	}
}
