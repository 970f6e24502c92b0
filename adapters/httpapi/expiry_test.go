package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// expiringDocs is fakeDocs that keeps the expiry of its writes.
type expiringDocs struct {
	*fakeDocs
	expiries []time.Time
}

func (e *expiringDocs) PutExpiring(ctx context.Context, c, key string, body []byte, ifVersion *domain.Timestamp, expiresAt time.Time) (domain.Timestamp, error) {
	v, err := e.Put(ctx, c, key, body, ifVersion)
	if err == nil {
		e.setExpiry(c, key, expiresAt)
	}
	return v, err
}

func (e *expiringDocs) BatchExpiring(ctx context.Context, c string, puts map[string][]byte, deletes []string, expiresAt time.Time) (map[string]domain.Timestamp, error) {
	vs, err := e.Batch(ctx, c, puts, deletes)
	if err == nil {
		for k := range puts {
			e.setExpiry(c, k, expiresAt)
		}
	}
	return vs, err
}

func (e *expiringDocs) setExpiry(c, key string, t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.docs[c+"/"+key]
	d.ExpiresAt = t.UnixMilli()
	e.docs[c+"/"+key] = d
	e.expiries = append(e.expiries, t)
}

func TestPutWithExpiry(t *testing.T) {
	docs := &expiringDocs{fakeDocs: newFakeDocs()}
	h := New(Options{Documents: docs, MaxDocumentBytes: 1024, MaxBatchBytes: 4096})

	before := time.Now()
	rec := do(t, h, http.MethodPut, "/v1/collections/sess/docs/a?ttl=90s", `{"u":1}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, docs.expiries, 1)
	require.WithinDuration(t, before.Add(90*time.Second), docs.expiries[0], 5*time.Second)

	rec = do(t, h, http.MethodGet, "/v1/collections/sess/docs/a", "")
	require.Equal(t, http.StatusOK, rec.Code)
	got, err := time.Parse(time.RFC3339Nano, rec.Header().Get("Expires-At"))
	require.NoError(t, err)
	require.Equal(t, docs.expiries[0].UnixMilli(), got.UnixMilli())

	rec = do(t, h, http.MethodPut, "/v1/collections/sess/docs/b?expires_at=2030-01-02T15:04:05Z", `{"u":2}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC), docs.expiries[1].UTC())

	rec = do(t, h, http.MethodGet, "/v1/collections/sess/docs", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var page findReply
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Documents, 2)
	require.Equal(t, "2030-01-02T15:04:05.000Z", page.Documents[1].ExpiresAt)

	rec = do(t, h, http.MethodPut, "/v1/collections/sess/docs/c", `{"u":3}`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, do(t, h, http.MethodGet, "/v1/collections/sess/docs/c", "").Header().Get("Expires-At"), "no expiry, no header")

	rec = do(t, h, http.MethodPost, "/v1/collections/sess/batch", `{"put":{"d":{"u":4}},"ttl":"1h"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, docs.expiries, 3)
	require.WithinDuration(t, time.Now().Add(time.Hour), docs.expiries[2], 5*time.Second)
}

func TestBadExpiryIs400(t *testing.T) {
	docs := &expiringDocs{fakeDocs: newFakeDocs()}
	h := New(Options{Documents: docs, MaxDocumentBytes: 1024, MaxBatchBytes: 4096})
	for _, path := range []string{
		"/v1/collections/sess/docs/a?ttl=soon",
		"/v1/collections/sess/docs/a?ttl=-5s",
		"/v1/collections/sess/docs/a?ttl=0s",
		"/v1/collections/sess/docs/a?expires_at=tomorrow",
		"/v1/collections/sess/docs/a?ttl=1h&expires_at=2030-01-02T15:04:05Z",
	} {
		rec := do(t, h, http.MethodPut, path, `{}`)
		require.Equal(t, http.StatusBadRequest, rec.Code, path)
		e := errOf(t, rec)
		require.Equal(t, string(domain.CodeInvalidArgument), e.Code, path)
		require.Regexp(t, "ttl|expires_at", e.Message, path)
	}
	rec := do(t, h, http.MethodPost, "/v1/collections/sess/batch", `{"put":{"d":{}},"ttl":"x"}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Empty(t, docs.expiries)

	// A database that cannot keep an expiry refuses it rather than
	// writing a document that never expires.
	plain := New(Options{Documents: newFakeDocs(), MaxDocumentBytes: 1024, MaxBatchBytes: 4096})
	rec = do(t, plain, http.MethodPut, "/v1/collections/sess/docs/a?ttl=1h", `{}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, errOf(t, rec).Message, "expiry")
}
