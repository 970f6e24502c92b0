package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// PutOptions are the optional parts of a write.
type PutOptions struct {
	// IfVersion makes the write conditional (CONFLICT unless the stored
	// document has this version).
	IfVersion string
	// TTL makes the document expire this long after the node receives
	// the write; ExpiresAt makes it expire at that instant. At most one;
	// the node refuses an expiry that is not in the future. An expired
	// document reads as absent on every node and is collected later.
	TTL       time.Duration
	ExpiresAt time.Time
}

// query is the write's URL parameters.
func (o PutOptions) query() string {
	v := url.Values{}
	if o.TTL != 0 {
		v.Set("ttl", o.TTL.String())
	}
	if !o.ExpiresAt.IsZero() {
		v.Set("expires_at", o.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// PutWith writes doc with opts (a precondition, an expiry) and returns the
// new version.
func (c *Client) PutWith(ctx context.Context, collection, key string, doc []byte, opts PutOptions) (string, error) {
	var headers []string
	if opts.IfVersion != "" {
		headers = []string{"If-Match", `"` + opts.IfVersion + `"`}
	}
	var out versionReply
	_, err := c.call(ctx, "client.PutWith", http.MethodPut, DocPath(collection, key)+opts.query(), doc, &out, headers...)
	return out.Version, err
}
