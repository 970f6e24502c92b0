package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Document is a document as the API returns it. Key is empty for Get
// (the caller named it).
type Document struct {
	Key     string          `json:"key"`
	Version string          `json:"version"`
	Data    json.RawMessage `json:"data"`
	// ExpiresAt is when the document expires (RFC 3339), "" when never.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// Query is the find route's parameters; zero values are left out. With
// Sort or Fields, or a Where too long for a URL, Find sends the query in
// the body of POST /v1/collections/{c}/find.
type Query struct {
	Where   string // filter, e.g. {"age":{"$gt":30}}
	OrderBy string // dotted path, sorted by before Sort's fields
	Desc    bool
	Sort    string // sort document, e.g. {"age":-1,"name":1}
	Fields  string // projection, e.g. ["name","address.city"] or {"bio":0}
	Skip    int
	Take    int // 0: all (Find follows the node's pages)
}

// maxWhereInURL is the longest filter Find puts in a URL; the node takes
// URLs up to 64 KiB.
const maxWhereInURL = 16 << 10

// usesBody says whether Find must send q as a POST body.
func (q Query) usesBody() bool {
	return q.Sort != "" || q.Fields != "" || len(q.Where) > maxWhereInURL
}

// body is q as the POST find body; Take is the page size asked for.
func (q Query) body() ([]byte, error) {
	sort := strings.TrimSpace(q.Sort)
	if q.OrderBy != "" {
		path, err := json.Marshal(q.OrderBy)
		if err != nil {
			return nil, err
		}
		dir := "1"
		if q.Desc {
			dir = "-1"
		}
		rest := strings.TrimSpace(strings.TrimPrefix(sort, "{"))
		if rest != "" && rest != "}" {
			rest = "," + rest
		} else {
			rest = "}"
		}
		sort = "{" + string(path) + ":" + dir + rest
	}
	raw := func(s string) json.RawMessage {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		return json.RawMessage(s)
	}
	return json.Marshal(struct {
		Filter json.RawMessage `json:"filter,omitempty"`
		Sort   json.RawMessage `json:"sort,omitempty"`
		Skip   int             `json:"skip,omitempty"`
		Limit  int             `json:"limit,omitempty"`
		Fields json.RawMessage `json:"fields,omitempty"`
	}{raw(q.Where), raw(sort), q.Skip, q.Take, raw(q.Fields)})
}

func (q Query) values() url.Values {
	v := url.Values{}
	if q.Where != "" {
		v.Set("where", q.Where)
	}
	if q.OrderBy != "" {
		v.Set("order_by", q.OrderBy)
	}
	if q.Desc {
		v.Set("desc", "true")
	}
	if q.Skip > 0 {
		v.Set("skip", strconv.Itoa(q.Skip))
	}
	if q.Take > 0 {
		v.Set("take", strconv.Itoa(q.Take))
	}
	return v
}

// DocPath is the route of one document.
func DocPath(collection, key string) string {
	return collectionPath(collection) + "/docs/" + url.PathEscape(key)
}

func collectionPath(collection string) string {
	return "/v1/collections/" + url.PathEscape(collection)
}

type versionReply struct {
	Version string `json:"version"`
}

// Put writes doc (a JSON object) and returns the new version.
func (c *Client) Put(ctx context.Context, collection, key string, doc []byte) (string, error) {
	var out versionReply
	_, err := c.call(ctx, "client.Put", http.MethodPut, DocPath(collection, key), doc, &out)
	return out.Version, err
}

// PutIfVersion writes doc only over version (CONFLICT otherwise).
func (c *Client) PutIfVersion(ctx context.Context, collection, key string, doc []byte, version string) (string, error) {
	var out versionReply
	_, err := c.call(ctx, "client.PutIfVersion", http.MethodPut, DocPath(collection, key), doc, &out, "If-Match", `"`+version+`"`)
	return out.Version, err
}

// Get reads a live document: its body as stored and its version (from the
// ETag). NOT_FOUND when missing or deleted.
func (c *Client) Get(ctx context.Context, collection, key string) (Document, error) {
	var body json.RawMessage
	resp, err := c.call(ctx, "client.Get", http.MethodGet, DocPath(collection, key), nil, &body)
	if err != nil {
		return Document{}, err
	}
	return Document{Version: strings.Trim(resp.Header.Get("ETag"), `"`), Data: body, ExpiresAt: resp.Header.Get("Expires-At")}, nil
}

// Delete deletes a document and returns the version of the delete.
func (c *Client) Delete(ctx context.Context, collection, key string) (string, error) {
	var out versionReply
	_, err := c.call(ctx, "client.Delete", http.MethodDelete, DocPath(collection, key), nil, &out)
	return out.Version, err
}

// Batch applies puts and deletes in one collection, all or nothing, and
// returns the version of each key.
func (c *Client) Batch(ctx context.Context, collection string, puts map[string]json.RawMessage, deletes []string) (map[string]string, error) {
	if puts == nil {
		puts = map[string]json.RawMessage{}
	}
	if deletes == nil {
		deletes = []string{}
	}
	body, err := json.Marshal(map[string]any{"put": puts, "delete": deletes})
	if err != nil {
		return nil, err
	}
	var out struct {
		Versions map[string]string `json:"versions"`
	}
	_, err = c.call(ctx, "client.Batch", http.MethodPost, collectionPath(collection)+"/batch", body, &out)
	return out.Versions, err
}

// Find returns the documents matching q. The node answers in pages of a
// bounded size; Find asks for the next one while the node says more remain
// and q.Take is not reached.
func (c *Client) Find(ctx context.Context, collection string, q Query) ([]Document, error) {
	var all []Document
	for {
		var out struct {
			Documents []Document `json:"documents"`
			More      bool       `json:"more"`
			NextSkip  int        `json:"next_skip"`
		}
		if q.usesBody() {
			body, err := q.body()
			if err != nil {
				return nil, err
			}
			if _, err := c.call(ctx, "client.Find", http.MethodPost, collectionPath(collection)+"/find", body, &out); err != nil {
				return nil, err
			}
		} else if _, err := c.call(ctx, "client.Find", http.MethodGet, collectionPath(collection)+"/docs?"+q.values().Encode(), nil, &out); err != nil {
			return nil, err
		}
		if all == nil && !out.More {
			return out.Documents, nil
		}
		all = append(all, out.Documents...)
		if q.Take > 0 {
			if q.Take -= len(out.Documents); q.Take <= 0 {
				return all, nil
			}
		}
		if !out.More || out.NextSkip <= q.Skip {
			return all, nil
		}
		q.Skip = out.NextSkip
	}
}

// Count returns the number of documents matching where (empty: all).
func (c *Client) Count(ctx context.Context, collection, where string) (int, error) {
	n, _, err := c.CountUpTo(ctx, collection, where, 0)
	return n, err
}

// CountUpTo counts the documents matching where (empty: all) and stops past
// limit of them, so a count over a large collection costs what its bound
// does (the route's count?limit=N). more says more than limit match; n is
// then limit. A limit <= 0 counts every match, as Count.
func (c *Client) CountUpTo(ctx context.Context, collection, where string, limit int) (n int, more bool, err error) {
	var out struct {
		Count int  `json:"count"`
		More  bool `json:"more"`
	}
	v := Query{Where: where}.values()
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	_, err = c.call(ctx, "client.CountUpTo", http.MethodGet, collectionPath(collection)+"/count?"+v.Encode(), nil, &out)
	return out.Count, out.More, err
}

// Collections lists the collection names.
func (c *Client) Collections(ctx context.Context) ([]string, error) {
	var out struct {
		Collections []string `json:"collections"`
	}
	_, err := c.call(ctx, "client.Collections", http.MethodGet, "/v1/collections", nil, &out)
	return out.Collections, err
}
