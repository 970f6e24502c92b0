package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// versionReply is the answer of a put.
type versionReply struct {
	Collection string `json:"collection,omitempty"`
	Key        string `json:"key,omitempty"`
	Version    string `json:"version"`
}

// docReply is one document of a find.
type docReply struct {
	Key     string          `json:"key"`
	Version string          `json:"version"`
	Data    json.RawMessage `json:"data"`
	// ExpiresAt is the document's expiry (RFC 3339), absent when none.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// findReply is one page of a find. More says documents remain after it;
// NextSkip is then the skip that asks for the next page.
type findReply struct {
	Documents []docReply `json:"documents"`
	Count     int        `json:"count"`
	More      bool       `json:"more"`
	NextSkip  int        `json:"next_skip,omitempty"`
}

// Page sizes of find: take=0 (or none) asks for DefaultPageSize documents,
// a larger take than MaxPageSize gets MaxPageSize; a page is held whole in
// memory, so neither may be unbounded.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// countReply is the answer of a count. With limit=N, More says more than N
// documents match, and Count is then N.
type countReply struct {
	Count int  `json:"count"`
	More  bool `json:"more,omitempty"`
}

// BoundedCounter is an optional capability of Documents: a count that
// stops early (app.Database has it). Without it a count with a limit
// counts every match and then applies the limit.
type BoundedCounter interface {
	// CountUpTo counts the matches of f, at most limit of them.
	CountUpTo(ctx context.Context, collection string, f domain.Filter, limit int) (int, error)
}

type collectionsReply struct {
	Collections []string `json:"collections"`
}

type batchRequest struct {
	Put    map[string]json.RawMessage `json:"put"`
	Delete []string                   `json:"delete"`
	// TTL or ExpiresAt, at most one, give every put an expiry.
	TTL       string `json:"ttl,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

type batchReply struct {
	Versions map[string]string `json:"versions"`
}

// PUT /v1/collections/{c}/docs/{key}
func (a *API) putDocument(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.Put"
	c, key, err := collectionAndKey(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The body's JSON is validated once, by Documents.Put (the app), not
	// here as well.
	body, err := readBody(w, r, a.opts.MaxDocumentBytes+bodySlack)
	if err != nil {
		a.writeError(w, r, domain.Wrap(domain.CodeInvalidArgument, op, err))
		return
	}
	cond, err := a.condition(r, c, key)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	exp, err := queryExpiry(op, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var v domain.Timestamp
	if exp.IsZero() {
		v, err = a.opts.Documents.Put(r.Context(), c, key, body, cond)
	} else {
		var ed ExpiringDocuments
		if ed, err = a.expiring(op); err == nil {
			v, err = ed.PutExpiring(r.Context(), c, key, body, cond, exp)
		}
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	version := v.String()
	setETagString(w, version)
	writeJSON(w, http.StatusOK, versionReply{Collection: c, Key: key, Version: version})
}

// GET /v1/collections/{c}/docs/{key}
func (a *API) getDocument(w http.ResponseWriter, r *http.Request) {
	c, key, err := collectionAndKey(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	doc, err := a.opts.Documents.Get(r.Context(), c, key)
	if err == nil && doc.Deleted { // the app answers NOT_FOUND itself; do not trust a shim to
		err = domain.Errorf(domain.CodeNotFound, "httpapi.Get", "%s/%s is deleted", c, key)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	setETag(w, doc.Stamp)
	if exp := formatExpiry(doc.ExpiresAt); exp != "" {
		w.Header().Set(expiresAtHeader, exp)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, doc.Stamp) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.Data)
}

// DELETE /v1/collections/{c}/docs/{key}
func (a *API) deleteDocument(w http.ResponseWriter, r *http.Request) {
	c, key, err := collectionAndKey(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.opts.Documents.Delete(r.Context(), c, key)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionReply{Version: v.String()})
}

// POST /v1/collections/{c}/batch
func (a *API) batch(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.Batch"
	c := r.PathValue("c")
	if err := domain.ValidateCollection(c); err != nil {
		a.writeError(w, r, err)
		return
	}
	body, err := readBody(w, r, a.opts.MaxBatchBytes)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req batchRequest
	if err := decodeStrict(body, &req); err != nil {
		a.writeError(w, r, badRequest(op, `batch must be {"put":{"key":{...}},"delete":["key"]}: %v`, err))
		return
	}
	puts := make(map[string][]byte, len(req.Put))
	for k, raw := range req.Put {
		if err := domain.ValidateKey(k); err != nil {
			a.writeError(w, r, err)
			return
		}
		// Each body is validated once, by Documents.Batch (the app).
		puts[k] = raw
	}
	for _, k := range req.Delete {
		if err := domain.ValidateKey(k); err != nil {
			a.writeError(w, r, err)
			return
		}
		if _, both := puts[k]; both {
			a.writeError(w, r, badRequest(op, "key %q is both put and deleted", k))
			return
		}
	}
	exp, err := parseExpiry(op, req.TTL, req.ExpiresAt)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var versions map[string]domain.Timestamp
	if exp.IsZero() {
		versions, err = a.opts.Documents.Batch(r.Context(), c, puts, req.Delete)
	} else {
		var ed ExpiringDocuments
		if ed, err = a.expiring(op); err == nil {
			versions, err = ed.BatchExpiring(r.Context(), c, puts, req.Delete, exp)
		}
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	reply := batchReply{Versions: make(map[string]string, len(versions))}
	for k, v := range versions {
		reply.Versions[k] = v.String()
	}
	writeJSON(w, http.StatusOK, reply)
}

// GET /v1/collections/{c}/docs?where=FILTER&order_by=F&desc=true&skip=N&take=N
// answers one page (see DefaultPageSize).
func (a *API) find(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.Find"
	c := r.PathValue("c")
	if err := domain.ValidateCollection(c); err != nil {
		a.writeError(w, r, err)
		return
	}
	qs := r.URL.Query()
	var q domain.Query
	var err error
	if q.Filter, err = domain.ParseFilter([]byte(qs.Get("where"))); err != nil {
		a.writeError(w, r, err)
		return
	}
	if path := qs.Get("order_by"); path != "" {
		if err := domain.ValidatePath(path); err != nil {
			a.writeError(w, r, err)
			return
		}
		q.OrderBy = &domain.Order{Path: path}
		if s := qs.Get("desc"); s != "" {
			if q.OrderBy.Desc, err = strconv.ParseBool(s); err != nil {
				a.writeError(w, r, badRequest(op, "desc=%q must be true or false", s))
				return
			}
		}
	}
	if q.Skip, err = nonNegative(qs, "skip"); err != nil {
		a.writeError(w, r, err)
		return
	}
	if q.Take, err = nonNegative(qs, "take"); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.findPage(w, r, c, q, nil)
}

// GET /v1/collections/{c}/count?where=FILTER&limit=N: with a limit the
// count stops past N matches and says whether there were more, so a
// dashboard can show "10,000+" without reading a large collection whole.
func (a *API) count(w http.ResponseWriter, r *http.Request) {
	c := r.PathValue("c")
	if err := domain.ValidateCollection(c); err != nil {
		a.writeError(w, r, err)
		return
	}
	qs := r.URL.Query()
	f, err := domain.ParseFilter([]byte(qs.Get("where")))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := nonNegative(qs, "limit")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var n int
	bc, bounded := a.opts.Documents.(BoundedCounter)
	switch {
	case limit > 0 && bounded:
		n, err = bc.CountUpTo(r.Context(), c, f, limit+1) // the one past the limit says there are more
	default:
		n, err = a.opts.Documents.Count(r.Context(), c, f)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	reply := countReply{Count: n}
	if limit > 0 && n > limit {
		reply = countReply{Count: limit, More: true}
	}
	writeJSON(w, http.StatusOK, reply)
}

// GET /v1/collections: the collections the key may read.
func (a *API) collections(w http.ResponseWriter, r *http.Request) {
	names, err := a.opts.Documents.Collections(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	who := callerOf(r)
	readable := make([]string, 0, len(names))
	for _, c := range names {
		if who.access.CanRead(c) {
			readable = append(readable, c)
		}
	}
	writeJSON(w, http.StatusOK, collectionsReply{Collections: readable})
}

// condition turns If-Match / If-None-Match into Put's ifVersion:
// If-Match "<version>" writes only over that version; If-Match * only over
// an existing document; If-None-Match * only when there is none.
func (a *API) condition(r *http.Request, c, key string) (*domain.Timestamp, error) {
	const op = "httpapi.Put"
	if im := strings.TrimSpace(r.Header.Get("If-Match")); im != "" {
		if im == "*" {
			doc, err := a.opts.Documents.Get(r.Context(), c, key)
			if errors.Is(err, domain.ErrNotFound) || (err == nil && doc.Deleted) {
				return nil, domain.Errorf(domain.CodeConflict, op, "If-Match *: %s/%s does not exist", c, key)
			}
			if err != nil {
				return nil, err
			}
			return &doc.Stamp, nil
		}
		v, err := domain.ParseTimestamp(unquoteETag(im))
		if err != nil {
			return nil, badRequest(op, "If-Match %s is not a document version", im)
		}
		return &v, nil
	}
	if strings.TrimSpace(r.Header.Get("If-None-Match")) == "*" {
		return &domain.Timestamp{}, nil // the app's "only if absent"
	}
	return nil, nil
}

// collectionAndKey reads and checks the path parameters.
func collectionAndKey(r *http.Request) (string, string, error) {
	c, key := r.PathValue("c"), r.PathValue("key")
	if err := domain.ValidateCollection(c); err != nil {
		return "", "", err
	}
	if err := domain.ValidateKey(key); err != nil {
		return "", "", err
	}
	return c, key, nil
}

// readBody reads at most limit bytes; a longer body is TOO_LARGE.
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, error) {
	const op = "httpapi.readBody"
	rd := http.MaxBytesReader(w, r.Body, int64(limit))
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= int64(limit) {
		// The size is announced: one buffer of it (plus the byte that
		// shows EOF) instead of ReadAll's growing copies. A body longer
		// than announced is cut off by the server, shorter fails.
		buf := bytes.NewBuffer(make([]byte, 0, n+1))
		_, err = buf.ReadFrom(rd)
		body = buf.Bytes()
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, domain.Errorf(domain.CodeTooLarge, op, "request body is larger than %d bytes", tooBig.Limit)
		}
		return nil, badRequest(op, "cannot read the request body: %v", err)
	}
	return body, nil
}

// decodeStrict decodes one JSON object with only the fields v has and
// nothing after it.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

func nonNegative(qs map[string][]string, name string) (int, error) {
	vals := qs[name]
	if len(vals) == 0 || vals[0] == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil || n < 0 {
		return 0, badRequest("httpapi.Find", "%s=%q must be a non-negative integer", name, vals[0])
	}
	return n, nil
}

// setETag sets ETag: "<version>".
func setETag(w http.ResponseWriter, v domain.Timestamp) { setETagString(w, v.String()) }

// setETagString sets the ETag of a version already formatted.
func setETagString(w http.ResponseWriter, version string) {
	w.Header()["Etag"] = []string{`"` + version + `"`}
}

// unquoteETag accepts "v", W/"v" and, leniently for shell users, a bare v.
func unquoteETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// etagMatches reports whether an If-None-Match list names version v.
func etagMatches(header string, v domain.Timestamp) bool {
	want := v.String()
	for _, part := range strings.Split(header, ",") {
		p := strings.TrimSpace(part)
		if p == "*" || unquoteETag(p) == want {
			return true
		}
	}
	return false
}
