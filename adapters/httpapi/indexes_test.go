package httpapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// indexingDocs is fakeDocs that can index, recording what it was asked.
type indexingDocs struct {
	*fakeDocs
	indexed []string
}

func (d *indexingDocs) EnsureIndex(_ context.Context, c, path string) error {
	d.indexed = append(d.indexed, c+":"+path)
	return nil
}

func TestCreateIndex(t *testing.T) {
	docs := &indexingDocs{fakeDocs: newFakeDocs()}
	api := New(Options{Documents: docs})
	rec := do(t, api, http.MethodPost, "/v1/collections/users/indexes", `{"path":"address.city"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"collection":"users","path":"address.city"}`, rec.Body.String())
	assert.Equal(t, []string{"users:address.city"}, docs.indexed)

	for _, tc := range []struct{ name, body string }{
		{"path not indexable", `{"path":"a b"}`},
		{"no path", `{}`},
		{"unknown member", `{"path":"a","unique":true}`},
		{"not JSON", `path=a`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, api, http.MethodPost, "/v1/collections/users/indexes", tc.body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		})
	}
	assert.Len(t, docs.indexed, 1, "a refused request indexes nothing")

	// Documents that cannot index have no such route.
	rec = do(t, New(Options{Documents: newFakeDocs()}), http.MethodPost, "/v1/collections/users/indexes", `{"path":"a"}`)
	assert.NotEqual(t, http.StatusOK, rec.Code)
}
