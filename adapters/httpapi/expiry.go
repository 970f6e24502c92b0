package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// ExpiringDocuments is what writes with an expiry need of the database;
// Documents that do not implement it refuse a ttl or expires_at.
type ExpiringDocuments interface {
	// PutExpiring is Documents.Put with an expiry (zero: never).
	PutExpiring(ctx context.Context, collection, key string, body []byte, ifVersion *domain.Timestamp, expiresAt time.Time) (domain.Timestamp, error)
	// BatchExpiring is Documents.Batch whose puts expire at expiresAt.
	BatchExpiring(ctx context.Context, collection string, puts map[string][]byte, deletes []string, expiresAt time.Time) (map[string]domain.Timestamp, error)
}

// expiresAtHeader answers a document's expiry on GET, next to its ETag.
const expiresAtHeader = "Expires-At"

// expiryFormat is RFC 3339 with milliseconds, the precision expiry is kept in.
const expiryFormat = "2006-01-02T15:04:05.000Z07:00"

// formatExpiry renders an expiry (Unix ms); "" for none.
func formatExpiry(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(expiryFormat)
}

// parseExpiry reads an expiry given as a ttl (a Go duration from now, e.g.
// 90s, 24h) or as expires_at (RFC 3339); zero when neither is given.
func parseExpiry(op, ttl, expiresAt string) (time.Time, error) {
	switch {
	case ttl != "" && expiresAt != "":
		return time.Time{}, badRequest(op, "give ttl or expires_at, not both")
	case ttl != "":
		d, err := time.ParseDuration(ttl)
		if err != nil || d <= 0 {
			return time.Time{}, badRequest(op, "ttl %q must be a positive duration such as 90s, 15m or 24h", ttl)
		}
		return time.Now().Add(d), nil
	case expiresAt != "":
		t, err := time.Parse(time.RFC3339Nano, expiresAt)
		if err != nil {
			return time.Time{}, badRequest(op, "expires_at %q must be an RFC 3339 time such as 2030-01-02T15:04:05Z", expiresAt)
		}
		return t, nil
	}
	return time.Time{}, nil
}

// queryExpiry is parseExpiry of a request's ttl and expires_at parameters.
func queryExpiry(op string, r *http.Request) (time.Time, error) {
	if r.URL.RawQuery == "" {
		return time.Time{}, nil // the common request: no query to parse
	}
	q := r.URL.Query()
	return parseExpiry(op, q.Get("ttl"), q.Get("expires_at"))
}

// expiring returns the database's expiring writes, or an error for a
// request that asks for an expiry the database cannot keep.
func (a *API) expiring(op string) (ExpiringDocuments, error) {
	if e, ok := a.opts.Documents.(ExpiringDocuments); ok {
		return e, nil
	}
	return nil, badRequest(op, "this node does not support document expiry")
}
