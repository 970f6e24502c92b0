package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/httpapi"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// docs is an in-memory httpapi.Documents: enough of the app's semantics
// (NOT_FOUND, conditional puts) for the client's round trips.
type docs struct {
	mu   sync.Mutex
	m    map[string]map[string]domain.Document
	wall int64
}

func (d *docs) stamp() domain.Timestamp {
	d.wall++
	return domain.Timestamp{Wall: 1000 + d.wall, Node: "n1"}
}

func (d *docs) Put(_ context.Context, c, key string, body []byte, ifVersion *domain.Timestamp) (domain.Timestamp, error) {
	// Bodies are validated by the database, as the app does (the API
	// leaves it to Documents).
	if err := domain.ValidateWrite(c, key, domain.OpPut, body, 0); err != nil {
		return domain.Timestamp{}, domain.Wrap(domain.CodeInvalidArgument, "docs.Put", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.m[c][key]
	if ifVersion != nil && (!ok || cur.Stamp != *ifVersion) {
		return domain.Timestamp{}, domain.Errorf(domain.CodeConflict, "docs.Put", "%s/%s is not at version %s", c, key, ifVersion)
	}
	if d.m[c] == nil {
		d.m[c] = map[string]domain.Document{}
	}
	ts := d.stamp()
	d.m[c][key] = domain.Document{Collection: c, Key: key, Data: body, Stamp: ts}
	return ts, nil
}

func (d *docs) Get(_ context.Context, c, key string) (domain.Document, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	doc, ok := d.m[c][key]
	if !ok {
		return domain.Document{}, domain.Errorf(domain.CodeNotFound, "docs.Get", "%s/%s not found", c, key)
	}
	return doc, nil
}

func (d *docs) Delete(ctx context.Context, c, key string) (domain.Timestamp, error) {
	if _, err := d.Get(ctx, c, key); err != nil {
		return domain.Timestamp{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m[c], key)
	return d.stamp(), nil
}

func (d *docs) Batch(ctx context.Context, c string, puts map[string][]byte, deletes []string) (map[string]domain.Timestamp, error) {
	out := map[string]domain.Timestamp{}
	for k, body := range puts {
		ts, err := d.Put(ctx, c, k, body, nil)
		if err != nil {
			return nil, err
		}
		out[k] = ts
	}
	for _, k := range deletes {
		ts, err := d.Delete(ctx, c, k)
		if err != nil {
			return nil, err
		}
		out[k] = ts
	}
	return out, nil
}

// Find ignores the filter (the client only carries it) but pages by skip
// and take as the node does.
func (d *docs) Find(_ context.Context, c string, q domain.Query) ([]domain.Document, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []domain.Document
	for _, doc := range d.m[c] {
		out = append(out, doc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	out = out[min(q.Skip, len(out)):]
	if q.Take > 0 {
		out = out[:min(q.Take, len(out))]
	}
	return out, nil
}

func (d *docs) Count(ctx context.Context, c string, _ domain.Filter) (int, error) {
	found, err := d.Find(ctx, c, domain.Query{})
	return len(found), err
}

func (d *docs) Collections(context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for c := range d.m {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// node serves the real HTTP adapter over the fake documents.
type node struct {
	*client.Client
	healthy atomic.Bool
}

func newNode(t *testing.T) *node {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "entgldb_peers_connected"})
	g.Set(2)
	reg.MustRegister(g)
	n := &node{}
	n.healthy.Store(true)
	api := httpapi.New(httpapi.Options{
		Documents: &docs{m: map[string]map[string]domain.Document{}},
		Status: func(context.Context) (ports.SyncStatus, error) {
			return ports.SyncStatus{NodeID: "n1", Online: true, LastSuccessfulSync: 42}, nil
		},
		Peers: func(context.Context) ([]ports.PeerStatus, error) {
			return []ports.PeerStatus{{NodeID: "n2", Address: "127.0.0.1:9", Connected: true}}, nil
		},
		Health: func(context.Context) ports.HealthReport {
			return ports.HealthReport{IsHealthy: n.healthy.Load(), DatabaseHealthy: true}
		},
		Backup:  func(context.Context) (string, int64, error) { return "/backups/b1.db", 4096, nil },
		Metrics: reg,
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	n.Client = client.New(srv.URL)
	return n
}

func TestDocumentRoundTrip(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()

	v1, err := n.Put(ctx, "users", "alice", []byte(`{"name":"Alice"}`))
	require.NoError(t, err)
	require.NotEmpty(t, v1)
	doc, err := n.Get(ctx, "users", "alice")
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Alice"}`, string(doc.Data))
	assert.Equal(t, v1, doc.Version, "the version comes from the ETag")

	v2, err := n.PutIfVersion(ctx, "users", "alice", []byte(`{"name":"Alice","age":31}`), v1)
	require.NoError(t, err)
	_, err = n.PutIfVersion(ctx, "users", "alice", []byte(`{"stale":true}`), v1)
	require.ErrorIs(t, err, domain.ErrConflict)
	assert.Equal(t, domain.CodeConflict, domain.CodeOf(err))

	versions, err := n.Batch(ctx, "users", map[string]json.RawMessage{"bob": json.RawMessage(`{"name":"Bob"}`)}, nil)
	require.NoError(t, err)
	assert.Contains(t, versions, "bob")
	found, err := n.Find(ctx, "users", client.Query{Where: `{"name":{"$gt":""}}`, OrderBy: "name", Take: 10})
	require.NoError(t, err)
	require.Len(t, found, 2)
	assert.Equal(t, "alice", found[0].Key)
	assert.Equal(t, v2, found[0].Version)
	assert.JSONEq(t, `{"name":"Bob"}`, string(found[1].Data))
	count, err := n.Count(ctx, "users", "")
	require.NoError(t, err)
	assert.Equal(t, 2, count)
	for _, c := range []struct {
		limit, n int
		more     bool
	}{{1, 1, true}, {2, 2, false}, {5, 2, false}, {0, 2, false}} {
		got, more, err := n.CountUpTo(ctx, "users", "", c.limit)
		require.NoError(t, err)
		assert.Equal(t, c.n, got, "limit %d", c.limit)
		assert.Equal(t, c.more, more, "limit %d", c.limit)
	}
	names, err := n.Collections(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"users"}, names)

	_, err = n.Delete(ctx, "users", "alice")
	require.NoError(t, err)
	_, err = n.Get(ctx, "users", "alice")
	require.ErrorIs(t, err, domain.ErrNotFound)
	assert.Equal(t, "users/alice not found", domain.Message(err), "the API's message, once")
	_, err = n.Delete(ctx, "users", "alice")
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestAPIErrorsCarryTheirCode(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	_, err := n.Put(ctx, "users", "a", []byte(`[1,2]`))
	require.ErrorIs(t, err, domain.ErrInvalidArgument)
	_, err = n.Put(ctx, "bad$name", "a", []byte(`{}`))
	require.ErrorIs(t, err, domain.ErrInvalidArgument)
	_, err = n.Put(ctx, "users", "a", []byte(`{"x":"`+strings.Repeat("a", 2<<20)+`"}`))
	require.ErrorIs(t, err, domain.ErrTooLarge)
	assert.False(t, errors.Is(err, domain.ErrNetwork))

	// Do hands the answer over whatever its status.
	resp, err := n.Do(ctx, http.MethodPut, client.DocPath("users", "a"), []byte(`{"a":`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, resp.Status)
	assert.Contains(t, string(resp.Body), `"INVALID_ARGUMENT"`)
}

func TestNodeRoutes(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	require.NoError(t, n.Ready(ctx))
	st, err := n.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "n1", st.NodeID)
	assert.Equal(t, int64(42), st.LastSuccessfulSync)
	peers, err := n.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, "n2", peers[0].NodeID)
	var raw any
	require.NoError(t, n.GetJSON(ctx, client.PathStatus, &raw))
	assert.Equal(t, "n1", raw.(map[string]any)["node_id"])

	h, err := n.Health(ctx)
	require.NoError(t, err)
	assert.True(t, h.Healthy)
	n.healthy.Store(false)
	h, err = n.Health(ctx)
	require.NoError(t, err, "an unhealthy node answers its report")
	assert.False(t, h.Healthy)
	assert.Contains(t, string(h.Report), `"is_healthy":false`)

	b, err := n.Backup(ctx, "/tmp/wanted.db")
	require.NoError(t, err)
	assert.Equal(t, client.BackupResult{Path: "/backups/b1.db", Bytes: 4096}, b)
	m, err := n.Metrics(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2.0, m["entgldb_peers_connected"])
}

func TestUnreachableNodeIsANetworkError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	_, err = client.New(addr).Get(context.Background(), "users", "k")
	require.ErrorIs(t, err, domain.ErrNetwork)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "the cause stays reachable")
	var ue *client.UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "http://"+addr, ue.Node)
	assert.True(t, strings.HasPrefix(domain.Message(err), "node at http://"+addr+" is unreachable: dial tcp "), domain.Message(err))
}

func TestAnswerWithoutAnErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream gone", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := client.New(srv.URL).Count(context.Background(), "c", "")
	require.Error(t, err)
	assert.Equal(t, domain.CodeInternal, domain.CodeOf(err))
	assert.Equal(t, "HTTP 502: upstream gone", domain.Message(err))
	var ue *client.UnreachableError
	assert.False(t, errors.As(err, &ue), "the node answered")
}

func TestNewDefaultsAndAddressForms(t *testing.T) {
	t.Setenv("ENTGLDB_NODE", "")
	assert.Equal(t, "http://"+client.DefaultAddr, client.New("").Base())
	t.Setenv("ENTGLDB_NODE", "10.0.0.1:7000")
	assert.Equal(t, "http://10.0.0.1:7000", client.New("").Base())
	assert.Equal(t, "https://node.example/api", client.New("https://node.example/api/").Base())
}

func TestParseMetricsKeepsUnlabelledSamples(t *testing.T) {
	body := []byte(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
process_open_fds 17
process_resident_memory_bytes 3.2768e+07
entgldb_sync_rounds_total{peer="a"} 5
entgldb_peers_connected 4
garbage
`)
	m := client.ParseMetrics(body)
	assert.Equal(t, 42.0, m["go_goroutines"])
	assert.Equal(t, 17.0, m["process_open_fds"])
	assert.Equal(t, 32768000.0, m["process_resident_memory_bytes"])
	assert.Equal(t, 4.0, m["entgldb_peers_connected"])
	_, labelled := m["entgldb_sync_rounds_total"]
	assert.False(t, labelled)
	assert.Len(t, m, 4)
}

// The node answers find in bounded pages; Find follows them until all (or
// Take) documents are read.
func TestFindFollowsPages(t *testing.T) {
	n := newNode(t)
	ctx := t.Context()
	const total = httpapi.DefaultPageSize*2 + 7
	puts := map[string]json.RawMessage{}
	for i := range total {
		puts[fmt.Sprintf("k%04d", i)] = json.RawMessage(`{}`)
	}
	_, err := n.Batch(ctx, "many", puts, nil)
	require.NoError(t, err)
	found, err := n.Find(ctx, "many", client.Query{})
	require.NoError(t, err)
	require.Len(t, found, total)
	assert.Equal(t, fmt.Sprintf("k%04d", total-1), found[total-1].Key)
	found, err = n.Find(ctx, "many", client.Query{Skip: 5, Take: httpapi.DefaultPageSize + 1})
	require.NoError(t, err)
	require.Len(t, found, httpapi.DefaultPageSize+1)
	assert.Equal(t, "k0005", found[0].Key)
}

// With a sort document or a projection, Find posts the query and still
// follows the pages.
func TestFindByBodyFollowsPages(t *testing.T) {
	n := newNode(t)
	ctx := t.Context()
	const total = httpapi.DefaultPageSize + 3
	puts := map[string]json.RawMessage{}
	for i := range total {
		puts[fmt.Sprintf("k%04d", i)] = json.RawMessage(fmt.Sprintf(`{"a":%d,"b":"x"}`, i))
	}
	_, err := n.Batch(ctx, "many", puts, nil)
	require.NoError(t, err)
	found, err := n.Find(ctx, "many", client.Query{Sort: `{"a":-1}`, Fields: `["a"]`})
	require.NoError(t, err)
	require.Len(t, found, total)
	assert.JSONEq(t, `{"a":0}`, string(found[0].Data))
	found, err = n.Find(ctx, "many", client.Query{Where: `{"a":{"$in":[` + strings.Repeat("1,", 20_000) + `1]}}`, Take: 2})
	require.NoError(t, err, "a filter too long for a URL goes in the body")
	require.Len(t, found, 2)
}
