package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/domain"
)

// stampDocs answers every Put at once with one version: what is left to
// measure is the API's own work around the database.
type stampDocs struct{ Documents }

func (stampDocs) Put(context.Context, string, string, []byte, *domain.Timestamp) (domain.Timestamp, error) {
	return domain.Timestamp{Wall: 1_700_000_000_000, Logical: 3, Node: "n1"}, nil
}

// BenchmarkPutHandler is the API's cost of one PUT of a ~500-byte document
// with a key, between the parsed request and the database (go test -bench
// PutHandler -benchmem ./adapters/httpapi/).
func BenchmarkPutHandler(b *testing.B) {
	dir := b.TempDir()
	keys, _, err := apikeys.Open(filepath.Join(dir, "api-keys.json"), filepath.Join(dir, "admin.key"))
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := keys.Create("bench", []string{"c:rw"})
	if err != nil {
		b.Fatal(err)
	}
	api := New(Options{Documents: stampDocs{}, Keys: keys})
	body := []byte(`{"name":"a name","text":"` + strings.Repeat("x", 460) + `"}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPut, "http://127.0.0.1/v1/collections/c/docs/k", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
