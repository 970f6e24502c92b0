// Package client is a Go client for a node's HTTP API (INTERFACE.md): the
// document routes, status, peers, health, readiness, backups and metrics,
// used by the CLI, the process harness and the black-box tests. API errors
// come back as *domain.Error with the code of the API's error body, so
// callers use errors.Is(err, domain.ErrNotFound); a node that does not
// answer at all is a NETWORK_ERROR holding an *UnreachableError.
package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// DefaultAddr is the node's default HTTP address (Http.Address).
const DefaultAddr = "127.0.0.1:5080"

// Client talks to one node. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client

	// TLS (tls.go): a pinned fingerprint or CA roots, or why the options
	// giving them were refused.
	pin    string
	roots  *x509.CertPool
	tlsErr error
	key    string // API key sent as Authorization: Bearer (see WithKey)
}

// sharedTransport is the connection pool of every Client without its own
// (WithHTTPClient), as http.DefaultTransport would be, but keeping enough
// idle connections per node for goroutines that write concurrently through
// one Client: the default two would make all but two of them dial a new
// connection for every request.
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests through hc (timeouts, transport).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the node at addr: host:port (plain HTTP) or a URL
// (https://host:port for a node serving TLS; see WithPin and WithCA). An
// empty addr means $ENTGLDB_NODE, else DefaultAddr. Requests time out after
// 60 s unless WithHTTPClient says otherwise.
func New(addr string, opts ...Option) *Client {
	if addr == "" {
		addr = os.Getenv("ENTGLDB_NODE")
	}
	if addr == "" {
		addr = DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	c := &Client{base: strings.TrimRight(addr, "/"), http: &http.Client{Timeout: 60 * time.Second, Transport: sharedTransport}}
	for _, o := range opts {
		o(c)
	}
	c.applyTLS()
	return c
}

// Base is the node's base URL (http://host:port).
func (c *Client) Base() string { return c.base }

// CloseIdle drops idle keep-alive connections (so they do not count as
// the node's open descriptors).
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }

// Response is an answer of the node as it came, whatever its status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request as given and returns the answer whatever its status:
// for tests of bad input and callers that classify statuses themselves.
// header holds name, value pairs. Only a request that got no answer is an
// error (NETWORK_ERROR holding an *UnreachableError; INVALID_ARGUMENT for
// a bad address).
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header ...string) (Response, error) {
	const op = "client.Do"
	if c.tlsErr != nil {
		return Response{}, c.tlsErr
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return Response{}, domain.Errorf(domain.CodeInvalidArgument, op, "bad node address %q: %v", c.base, err)
	}
	// The node refuses any POST or PUT that is not application/json, bodyless ones too.
	if body != nil || method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, transportError(op, c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{Status: resp.StatusCode, Header: resp.Header}, domain.Wrap(domain.CodeNetwork, op, &UnreachableError{Node: c.base, Reading: true, Err: err})
	}
	if plainToTLS(resp.StatusCode, data) {
		return Response{}, domain.Errorf(domain.CodeInvalidArgument, op,
			"the node at %s serves HTTPS: address it as https://%s (and pin its certificate: --pin, or ENTGLDB_PIN)", c.base, req.URL.Host)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// call sends a request and decodes a 2xx JSON answer into out (a
// *json.RawMessage takes the body as is; nil ignores it). Any other status
// is the API error of its body.
func (c *Client) call(ctx context.Context, op, method, path string, body []byte, out any, header ...string) (Response, error) {
	resp, err := c.Do(ctx, method, path, body, header...)
	if err != nil {
		return resp, err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return resp, apiError(op, resp.Status, resp.Body)
	}
	return resp, decode(op, resp.Body, out)
}

// GetJSON reads a JSON route into out (for instance into an `any` to show
// an answer as the node sent it).
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	_, err := c.call(ctx, "client.GetJSON", http.MethodGet, path, nil, out)
	return err
}

func decode(op string, body []byte, out any) error {
	switch o := out.(type) {
	case nil:
		return nil
	case *json.RawMessage:
		*o = body
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return domain.Errorf(domain.CodeInternal, op, "unexpected answer from node: %v", err)
	}
	return nil
}
