package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/entgldb/entgldb-go/domain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// do runs one request against h in memory; headers are name, value pairs.
func do(t *testing.T, h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "localhost:5080"
	if method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json") // what the client sends; tests override it
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errOf decodes the error body and checks its shape.
func errOf(t *testing.T, rec *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var b errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b), "error body: %s", rec.Body)
	require.NotEmpty(t, b.Error.Code, "error body: %s", rec.Body)
	require.NotEmpty(t, b.Error.Message, "error body: %s", rec.Body)
	return b.Error
}

func q(filter string) string { return url.QueryEscape(filter) }

func newTestAPI(t *testing.T) (*API, *fakeDocs) {
	t.Helper()
	docs := newFakeDocs()
	docs.maxDoc = 1024
	return New(Options{Documents: docs, MaxDocumentBytes: 1024, MaxBatchBytes: 4096}), docs
}

func TestDocumentLifecycle(t *testing.T) {
	api, docs := newTestAPI(t)

	rec := do(t, api, http.MethodPut, "/v1/collections/users/docs/alice", `{"name":"Alice","age":31}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var put versionReply
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &put))
	assert.Equal(t, "users", put.Collection)
	assert.Equal(t, "alice", put.Key)
	assert.Equal(t, "1001:0:n1", put.Version)
	assert.Equal(t, `"1001:0:n1"`, rec.Header().Get("ETag"))
	assert.Nil(t, docs.puts[0], "unconditional put")

	rec = do(t, api, http.MethodGet, "/v1/collections/users/docs/alice", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"name":"Alice","age":31}`, rec.Body.String())
	assert.Equal(t, `"1001:0:n1"`, rec.Header().Get("ETag"))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))

	rec = do(t, api, http.MethodGet, "/v1/collections/users/docs/alice", "", "If-None-Match", `"1001:0:n1"`)
	assert.Equal(t, http.StatusNotModified, rec.Code)
	assert.Empty(t, rec.Body.String())

	// A key with a slash, percent-encoded in the path.
	rec = do(t, api, http.MethodPut, "/v1/collections/users/docs/a%2Fb", `{}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, docs.docs, "users/a/b")

	rec = do(t, api, http.MethodDelete, "/v1/collections/users/docs/alice", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"version":"1003:0:n1"}`, rec.Body.String())

	rec = do(t, api, http.MethodGet, "/v1/collections/users/docs/alice", "")
	assert.Equal(t, http.StatusNotFound, rec.Code, "deleted reads as not found")
	assert.Equal(t, "NOT_FOUND", errOf(t, rec).Code)

	rec = do(t, api, http.MethodDelete, "/v1/collections/users/docs/alice", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, "NOT_FOUND", errOf(t, rec).Code)
}

func TestConditionalPut(t *testing.T) {
	api, docs := newTestAPI(t)
	path := "/v1/collections/c/docs/k"
	v1 := do(t, api, http.MethodPut, path, `{"v":1}`).Header().Get("ETag")

	tests := []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"stale version is a conflict", []string{"If-Match", `"999:0:n1"`}, http.StatusPreconditionFailed, "CONFLICT"},
		{"malformed version", []string{"If-Match", `"not-a-version"`}, http.StatusBadRequest, "INVALID_ARGUMENT"},
		{"create-only over an existing document", []string{"If-None-Match", "*"}, http.StatusPreconditionFailed, "CONFLICT"},
		{"current version wins", []string{"If-Match", v1}, http.StatusOK, ""},
		{"weak and bare forms of the new version", []string{"If-Match", "1002:0:n1"}, http.StatusOK, ""},
		{"If-Match * over an existing document", []string{"If-Match", "*"}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, api, http.MethodPut, path, `{"v":2}`, tt.headers...)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.code != "" {
				assert.Equal(t, tt.code, errOf(t, rec).Code)
			}
		})
	}

	rec := do(t, api, http.MethodPut, "/v1/collections/c/docs/absent", `{}`, "If-Match", "*")
	assert.Equal(t, http.StatusPreconditionFailed, rec.Code)
	rec = do(t, api, http.MethodPut, "/v1/collections/c/docs/absent", `{}`, "If-None-Match", "*")
	assert.Equal(t, http.StatusOK, rec.Code)
	last := docs.puts[len(docs.puts)-1]
	require.NotNil(t, last)
	assert.True(t, last.IsZero(), "If-None-Match * is Put's zero ifVersion")
}

func TestBadRequests(t *testing.T) {
	api, _ := newTestAPI(t)
	do(t, api, http.MethodPut, "/v1/collections/users/docs/keep", `{"age":40}`)
	big := `{"pad":"` + strings.Repeat("x", 2000) + `"}`     // over the 1024-byte limit, within the slack
	huge := `{"pad":"` + strings.Repeat("x", 100_000) + `"}` // beyond the slack: cut off while reading
	longKey := strings.Repeat("k", 257)
	badUTF8 := "{\"a\":\"\xff\xfe\"}"                                                                                       // encoding/json takes it; protobuf could never send it
	deep := `{"a":` + strings.Repeat("[", domain.MaxNestingDepth) + `1` + strings.Repeat("]", domain.MaxNestingDepth) + `}` // one level past the limit

	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		mentions                 string
	}{
		{"malformed JSON", "PUT", "/v1/collections/users/docs/a", `{"a":`, 400, "INVALID_ARGUMENT", "JSON"},
		{"non-object body", "PUT", "/v1/collections/users/docs/a", `[1,2]`, 400, "INVALID_ARGUMENT", "object"},
		{"empty body", "PUT", "/v1/collections/users/docs/a", ``, 400, "INVALID_ARGUMENT", ""},
		{"invalid UTF-8 in a string", "PUT", "/v1/collections/users/docs/a", badUTF8, 400, "INVALID_ARGUMENT", "UTF-8"},
		{"nested past the limit", "PUT", "/v1/collections/users/docs/a", deep, 400, "INVALID_ARGUMENT", "100 levels"},
		{"body over the document limit", "PUT", "/v1/collections/users/docs/a", big, 413, "TOO_LARGE", "1024"},
		{"body far over the limit", "PUT", "/v1/collections/users/docs/a", huge, 413, "TOO_LARGE", ""},
		{"bad collection characters", "PUT", "/v1/collections/bad$name/docs/a", `{}`, 400, "INVALID_ARGUMENT", "bad$name"},
		{"reserved collection", "PUT", "/v1/collections/_system/docs/a", `{}`, 400, "INVALID_ARGUMENT", "reserved"},
		{"key too long", "PUT", "/v1/collections/users/docs/" + longKey, `{}`, 400, "INVALID_ARGUMENT", "256"},
		{"reserved collection on read", "GET", "/v1/collections/_system/docs", "", 400, "INVALID_ARGUMENT", ""},
		{"unknown filter operator", "GET", "/v1/collections/users/docs?where=" + q(`{"age":{"$where":"x"}}`), "", 400, "INVALID_ARGUMENT", "$where"},
		{"unknown logical operator", "GET", "/v1/collections/users/count?where=" + q(`{"$nor":[]}`), "", 400, "INVALID_ARGUMENT", "$nor"},
		{"filter not JSON", "GET", "/v1/collections/users/count?where=" + q(`{age`), "", 400, "INVALID_ARGUMENT", ""},
		{"bad order_by path", "GET", "/v1/collections/users/docs?order_by=a..b", "", 400, "INVALID_ARGUMENT", ""},
		{"bad desc", "GET", "/v1/collections/users/docs?order_by=a&desc=maybe", "", 400, "INVALID_ARGUMENT", "desc"},
		{"negative skip", "GET", "/v1/collections/users/docs?skip=-1", "", 400, "INVALID_ARGUMENT", "skip"},
		{"bad take", "GET", "/v1/collections/users/docs?take=x", "", 400, "INVALID_ARGUMENT", "take"},
		{"missing document", "GET", "/v1/collections/users/docs/nope", "", 404, "NOT_FOUND", ""},
		{"unknown route", "GET", "/v2/whatever", "", 404, "NOT_FOUND", "/v2/whatever"},
		{"batch not an object", "POST", "/v1/collections/users/batch", `[]`, 400, "INVALID_ARGUMENT", ""},
		{"batch unknown field", "POST", "/v1/collections/users/batch", `{"puts":{}}`, 400, "INVALID_ARGUMENT", "puts"},
		{"batch document not an object", "POST", "/v1/collections/users/batch", `{"put":{"a":1}}`, 400, "INVALID_ARGUMENT", `"a"`},
		{"batch null document", "POST", "/v1/collections/users/batch", `{"put":{"a":null}}`, 400, "INVALID_ARGUMENT", ""},
		{"batch document not UTF-8", "POST", "/v1/collections/users/batch", `{"put":{"a":` + badUTF8 + `}}`, 400, "INVALID_ARGUMENT", "UTF-8"},
		{"batch document nested past the limit", "POST", "/v1/collections/users/batch", `{"put":{"a":` + deep + `}}`, 400, "INVALID_ARGUMENT", "100 levels"},
		{"batch document too large", "POST", "/v1/collections/users/batch", `{"put":{"a":` + big + `}}`, 413, "TOO_LARGE", ""},
		{"batch body too large", "POST", "/v1/collections/users/batch", `{"put":{"a":` + huge + `}}`, 413, "TOO_LARGE", ""},
		{"batch put and delete one key", "POST", "/v1/collections/users/batch", `{"put":{"a":{}},"delete":["a"]}`, 400, "INVALID_ARGUMENT", "both"},
		{"batch bad key", "POST", "/v1/collections/users/batch", `{"delete":[""]}`, 400, "INVALID_ARGUMENT", ""},
		{"batch trailing data", "POST", "/v1/collections/users/batch", `{} {}`, 400, "INVALID_ARGUMENT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, api, tt.method, tt.path, tt.body)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			e := errOf(t, rec)
			assert.Equal(t, tt.code, e.Code)
			assert.Contains(t, e.Message, tt.mentions)
		})
	}

	rec := do(t, api, http.MethodGet, "/v1/collections/users/docs/keep", "")
	assert.JSONEq(t, `{"age":40}`, rec.Body.String(), "nothing lost to bad input")
}

// TestErrorTable checks THE code→status table end to end: whatever code the
// app returns reaches the client with the documented status and code.
func TestErrorTable(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{domain.Errorf(domain.CodeInvalidArgument, "x", "bad"), 400, "INVALID_ARGUMENT"},
		{domain.Errorf(domain.CodeNotFound, "x", "gone"), 404, "NOT_FOUND"},
		{domain.Errorf(domain.CodeConflict, "x", "stale"), 412, "CONFLICT"},
		{domain.Errorf(domain.CodeTooLarge, "x", "big"), 413, "TOO_LARGE"},
		{domain.Errorf(domain.CodeQueueFull, "x", "full"), 503, "QUEUE_FULL"},
		{domain.Errorf(domain.CodeNetwork, "x", "down"), 503, "NETWORK_ERROR"},
		{domain.Errorf(domain.CodeTimeout, "x", "slow"), 504, "TIMEOUT_ERROR"},
		{context.DeadlineExceeded, 504, "TIMEOUT_ERROR"},
		{domain.Errorf(domain.CodeCorruption, "x", "broken"), 500, "CORRUPTION"},
		{domain.Errorf(domain.CodePersistence, "x", "disk"), 500, "PERSISTENCE_ERROR"},
		{errors.New("plain"), 500, "INTERNAL_ERROR"},
		{domain.Wrap(domain.CodeInternal, "outer", domain.Errorf(domain.CodeConflict, "inner", "wrapped")), 412, "CONFLICT"},
	}
	routes := []struct{ method, path, body string }{
		{"PUT", "/v1/collections/c/docs/k", `{}`},
		{"GET", "/v1/collections/c/docs/k", ""},
		{"DELETE", "/v1/collections/c/docs/k", ""},
		{"POST", "/v1/collections/c/batch", `{"put":{"k":{}}}`},
		{"GET", "/v1/collections/c/docs", ""},
		{"GET", "/v1/collections/c/count", ""},
		{"GET", "/v1/collections", ""},
	}
	for _, tt := range tests {
		api, docs := newTestAPI(t)
		docs.fail = tt.err
		for _, r := range routes {
			rec := do(t, api, r.method, r.path, r.body)
			require.Equal(t, tt.status, rec.Code, "%v on %s %s", tt.err, r.method, r.path)
			e := errOf(t, rec)
			assert.Equal(t, tt.code, e.Code)
		}
		assert.Equal(t, tt.status, StatusOf(tt.err))
	}
}

func TestBatch(t *testing.T) {
	api, docs := newTestAPI(t)
	do(t, api, http.MethodPut, "/v1/collections/c/docs/old", `{}`)
	rec := do(t, api, http.MethodPost, "/v1/collections/c/batch", `{"put":{"k1":{"a":1},"k2":{"b":[1,2]}},"delete":["old"]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var reply batchReply
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &reply))
	assert.Equal(t, map[string]string{"k1": "1002:0:n1", "k2": "1003:0:n1", "old": "1004:0:n1"}, reply.Versions)
	assert.JSONEq(t, `{"b":[1,2]}`, string(docs.last["c"]["k2"]))
	assert.True(t, docs.docs["c/old"].Deleted)

	rec = do(t, api, http.MethodPost, "/v1/collections/c/batch", `{}`)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"versions":{}}`, rec.Body.String())
}

func TestFindCountCollections(t *testing.T) {
	api, _ := newTestAPI(t)
	for key, body := range map[string]string{
		"a": `{"age":25,"city":"Rome"}`,
		"b": `{"age":35,"city":"Rome","address":{"city":"Milan"}}`,
		"c": `{"age":45,"city":"Oslo"}`,
		"d": `{"age":55,"city":"Rome"}`,
	} {
		require.Equal(t, http.StatusOK, do(t, api, http.MethodPut, "/v1/collections/people/docs/"+key, body).Code)
	}
	do(t, api, http.MethodPut, "/v1/collections/other/docs/x", `{}`)

	keys := func(rec *httptest.ResponseRecorder) []string {
		t.Helper()
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var r findReply
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
		out := []string{}
		for _, d := range r.Documents {
			assert.NotEmpty(t, d.Version)
			assert.True(t, json.Valid(d.Data))
			out = append(out, d.Key)
		}
		assert.Equal(t, len(out), r.Count)
		return out
	}
	base := "/v1/collections/people/docs"
	assert.Equal(t, []string{"a", "b", "c", "d"}, keys(do(t, api, "GET", base, "")))
	assert.Equal(t, []string{"b", "d"}, keys(do(t, api, "GET", base+"?where="+q(`{"age":{"$gt":30},"city":"Rome"}`), "")))
	assert.Equal(t, []string{"a", "c"}, keys(do(t, api, "GET", base+"?where="+q(`{"$or":[{"age":25},{"city":{"$in":["Oslo"]}}]}`), "")))
	assert.Equal(t, []string{"b"}, keys(do(t, api, "GET", base+"?where="+q(`{"address.city":"Milan"}`), "")))
	assert.Equal(t, []string{"d", "c"}, keys(do(t, api, "GET", base+"?order_by=age&desc=true&take=2", "")))
	assert.Equal(t, []string{"b", "c"}, keys(do(t, api, "GET", base+"?order_by=age&skip=1&take=2", "")))

	rec := do(t, api, "GET", "/v1/collections/people/docs?where="+q(`{"city":"Rome"}`), "")
	var r struct {
		Documents []struct {
			Data map[string]any `json:"data"`
		} `json:"documents"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
	assert.Equal(t, 25.0, r.Documents[0].Data["age"], "data is the document object, not a string")

	rec = do(t, api, "GET", "/v1/collections/people/count?where="+q(`{"city":"Rome"}`), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"count":3}`, rec.Body.String())
	rec = do(t, api, "GET", "/v1/collections/people/count", "")
	assert.JSONEq(t, `{"count":4}`, rec.Body.String())

	rec = do(t, api, "GET", "/v1/collections/empty/docs", "")
	assert.JSONEq(t, `{"documents":[],"count":0,"more":false}`, rec.Body.String())

	rec = do(t, api, "GET", "/v1/collections", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"collections":["other","people"]}`, rec.Body.String())

	empty, _ := newTestAPI(t)
	assert.JSONEq(t, `{"collections":[]}`, do(t, empty, "GET", "/v1/collections", "").Body.String())
}

func TestRequestTimeoutReachesTheApp(t *testing.T) {
	docs := newFakeDocs()
	docs.calls["Collections"] = func() error { return nil }
	var sawDeadline bool
	api := New(Options{Documents: deadlineDocs{fakeDocs: docs, saw: &sawDeadline}})
	rec := do(t, api, "GET", "/v1/collections", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, sawDeadline, "document requests carry RequestTimeout as a deadline")
}

type deadlineDocs struct {
	*fakeDocs
	saw *bool
}

func (d deadlineDocs) Collections(ctx context.Context) ([]string, error) {
	_, *d.saw = ctx.Deadline()
	return d.fakeDocs.Collections(ctx)
}

func TestPanicBecomes500(t *testing.T) {
	api := New(Options{Documents: panicDocs{newFakeDocs()}})
	rec := do(t, api, "GET", "/v1/collections", "")
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "INTERNAL_ERROR", errOf(t, rec).Code)
}

type panicDocs struct{ *fakeDocs }

func (panicDocs) Collections(context.Context) ([]string, error) { panic("boom") }

// A cross-site form or "simple" fetch can POST text/plain without a
// preflight: no write may happen, whatever the body says.
func TestNonJSONBodiesAreRefused(t *testing.T) {
	api, docs := newTestAPI(t)
	_, err := docs.Put(context.Background(), "users", "a", []byte(`{"n":1}`), nil)
	require.NoError(t, err)
	for _, tc := range []struct{ method, path, ctype string }{
		{"POST", "/v1/collections/users/batch", "text/plain"},
		{"POST", "/v1/collections/users/batch", "application/x-www-form-urlencoded"},
		{"POST", "/v1/collections/users/batch", ""},
		{"PUT", "/v1/collections/users/docs/b", "text/plain;charset=UTF-8"},
		{"POST", "/v1/admin/backup", "multipart/form-data; boundary=x"},
	} {
		t.Run(tc.method+" "+tc.ctype, func(t *testing.T) {
			rec := do(t, api, tc.method, tc.path, `{"put":{"b":{"n":2}},"delete":["a"]}`, "Content-Type", tc.ctype)
			require.Equal(t, http.StatusUnsupportedMediaType, rec.Code, rec.Body.String())
			assert.Equal(t, "INVALID_ARGUMENT", errOf(t, rec).Code)
		})
	}
	_, err = docs.Get(context.Background(), "users", "a")
	require.NoError(t, err, "the refused batch must not have deleted a")
	_, err = docs.Get(context.Background(), "users", "b")
	require.Error(t, err, "the refused requests must not have written b")
	rec := do(t, api, "POST", "/v1/collections/users/batch", `{"delete":["a"]}`, "Content-Type", "application/json; charset=utf-8")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

// find answers bounded pages: DefaultPageSize without take, at most
// MaxPageSize with any take, and says when more remain and where they start.
func TestFindPages(t *testing.T) {
	api, docs := newTestAPI(t)
	for i := range MaxPageSize + 5 {
		_, err := docs.Put(context.Background(), "big", fmt.Sprintf("k%05d", i), []byte(`{}`), nil)
		require.NoError(t, err)
	}
	page := func(query string) findReply {
		t.Helper()
		rec := do(t, api, "GET", "/v1/collections/big/docs"+query, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var r findReply
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
		require.Equal(t, len(r.Documents), r.Count)
		return r
	}
	r := page("")
	assert.Equal(t, DefaultPageSize, r.Count)
	assert.True(t, r.More)
	assert.Equal(t, DefaultPageSize, r.NextSkip)
	assert.Equal(t, fmt.Sprintf("k%05d", DefaultPageSize), page(fmt.Sprintf("?skip=%d", r.NextSkip)).Documents[0].Key)

	r = page("?take=1000000")
	assert.Equal(t, MaxPageSize, r.Count, "take is capped")
	assert.True(t, r.More)
	r = page(fmt.Sprintf("?skip=%d&take=1000000", MaxPageSize))
	assert.Equal(t, 5, r.Count)
	assert.False(t, r.More, "the last page says nothing remains")
	assert.Zero(t, r.NextSkip)
	r = page("?take=3")
	assert.Equal(t, 3, r.Count)
	assert.True(t, r.More)
}

// boundedDocs is fakeDocs with the optional early-stopping count, which
// records the limits it was asked.
type boundedDocs struct {
	*fakeDocs
	limits []int
}

func (b *boundedDocs) CountUpTo(ctx context.Context, c string, f domain.Filter, limit int) (int, error) {
	b.limits = append(b.limits, limit)
	n, err := b.Count(ctx, c, f)
	return min(n, limit), err
}

func TestCountWithALimitSaysWhetherMoreMatch(t *testing.T) {
	fake := newFakeDocs()
	bounded := &boundedDocs{fakeDocs: newFakeDocs()}
	for _, docs := range []*fakeDocs{fake, bounded.fakeDocs} {
		api := New(Options{Documents: docs})
		for i := range 5 {
			require.Equal(t, http.StatusOK, do(t, api, http.MethodPut, fmt.Sprintf("/v1/collections/c/docs/k%d", i), fmt.Sprintf(`{"i":%d}`, i)).Code)
		}
	}
	for _, tc := range []struct {
		name, query, want string
	}{
		{"no limit", "", `{"count":5}`},
		{"limit above the count", "?limit=10", `{"count":5}`},
		{"limit at the count", "?limit=5", `{"count":5}`},
		{"limit below the count", "?limit=3", `{"count":3,"more":true}`},
		{"filtered, limit below", "?limit=1&where=" + q(`{"i":{"$gte":3}}`), `{"count":1,"more":true}`},
		{"filtered, limit above", "?limit=2&where=" + q(`{"i":{"$gte":3}}`), `{"count":2}`},
		{"limit 0 is no limit", "?limit=0", `{"count":5}`},
	} {
		for name, docs := range map[string]Documents{"counts all": fake, "stops early": bounded} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				rec := do(t, New(Options{Documents: docs}), http.MethodGet, "/v1/collections/c/count"+tc.query, "")
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				assert.JSONEq(t, tc.want, rec.Body.String())
			})
		}
	}
	// The early-stopping count is asked for one past the limit, never all.
	assert.Equal(t, []int{11, 6, 4, 2, 3}, bounded.limits)
	for _, bad := range []string{"-1", "x"} {
		rec := do(t, New(Options{Documents: fake}), http.MethodGet, "/v1/collections/c/count?limit="+bad, "")
		require.Equal(t, http.StatusBadRequest, rec.Code, bad)
	}
}
