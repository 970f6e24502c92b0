package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// sseEvent is one parsed Server-Sent Event, or a comment.
type sseEvent struct {
	id, event, data, comment string
}

// feedClient is an open /v1/changes response.
type feedClient struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// openFeed connects to the change feed; the request dies with the test's
// deadline so a missing event fails instead of hanging.
func openFeed(t *testing.T, base, query string, headers ...string) *feedClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/changes"+query, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return &feedClient{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads one event or comment block; io.EOF when the stream ended.
func (c *feedClient) next() (sseEvent, error) {
	var ev sseEvent
	seen := false
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if seen {
				return ev, nil
			}
			continue
		}
		seen = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			ev.comment = value
		case "id":
			ev.id = value
		case "event":
			ev.event = value
		case "data":
			ev.data = value
		}
	}
}

// nextEvent skips comments and returns the next event.
func (c *feedClient) nextEvent() sseEvent {
	c.t.Helper()
	for {
		ev, err := c.next()
		require.NoError(c.t, err)
		if ev.comment == "" {
			return ev
		}
	}
}

func newFeedServer(t *testing.T, heartbeat time.Duration) (*API, *fakeDocs, *fakeFeed, *httptest.Server) {
	t.Helper()
	docs := newFakeDocs()
	feed := newFakeFeed()
	docs.feed = feed
	api := New(Options{Documents: docs, Changes: feed, Heartbeat: heartbeat})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return api, docs, feed, srv
}

func TestChangeFeedLive(t *testing.T) {
	api, _, _, srv := newFeedServer(t, time.Hour)
	do(t, api, http.MethodPut, "/v1/collections/c/docs/before", `{}`) // before connecting: not replayed

	feed := openFeed(t, srv.URL, "")
	require.Equal(t, http.StatusOK, feed.resp.StatusCode)
	assert.Equal(t, "text/event-stream", feed.resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", feed.resp.Header.Get("Cache-Control"))
	first, err := feed.next()
	require.NoError(t, err)
	require.NotEmpty(t, first.comment, "headers and a first comment are flushed at once")

	do(t, api, http.MethodPut, "/v1/collections/c/docs/k", "{\n  \"a\": 1\n}")
	do(t, api, http.MethodDelete, "/v1/collections/c/docs/k", "")

	ev := feed.nextEvent()
	assert.Equal(t, "2", ev.id)
	var ch changeEvent
	require.NoError(t, json.Unmarshal([]byte(ev.data), &ch))
	assert.Equal(t, changeEvent{Seq: 2, Collection: "c", Key: "k", Op: "put", Version: "1002:0:n1",
		Data: json.RawMessage(`{"a":1}`)}, ch, "multi-line documents are compacted onto the data line")

	ev = feed.nextEvent()
	assert.Equal(t, "3", ev.id)
	assert.JSONEq(t, `{"seq":3,"collection":"c","key":"k","op":"delete","version":"1003:0:n1","data":null,"remote":false}`, ev.data)
}

func TestChangeFeedResume(t *testing.T) {
	api, _, feed, srv := newFeedServer(t, time.Hour)
	for _, k := range []string{"a", "b", "c"} {
		do(t, api, http.MethodPut, "/v1/collections/c/docs/"+k, `{}`)
	}
	feed.publish(domain.Change{Collection: "c", Key: "r", Op: domain.OpPut, Data: []byte(`{"x":true}`),
		Stamp: domain.Timestamp{Wall: 5, Node: "n2"}, Remote: true})

	ids := func(c *feedClient, n int) []string {
		var out []string
		for range n {
			out = append(out, c.nextEvent().id)
		}
		return out
	}
	assert.Equal(t, []string{"2", "3", "4"}, ids(openFeed(t, srv.URL, "?since=1"), 3))
	assert.Equal(t, []string{"1", "2", "3", "4"}, ids(openFeed(t, srv.URL, "?since=0"), 4))

	// A reconnecting EventSource repeats its URL and adds Last-Event-ID, which wins.
	c := openFeed(t, srv.URL, "?since=0", "Last-Event-ID", "3")
	ev := c.nextEvent()
	assert.Equal(t, "4", ev.id)
	assert.Contains(t, ev.data, `"remote":true`)

	// Live events continue after the replay.
	do(t, api, http.MethodPut, "/v1/collections/c/docs/d", `{}`)
	assert.Equal(t, "5", c.nextEvent().id)

	for _, bad := range []string{"?since=abc", "?since=-2"} {
		rec := do(t, api, http.MethodGet, "/v1/changes"+bad, "")
		assert.Equal(t, http.StatusBadRequest, rec.Code, bad)
		assert.Equal(t, "INVALID_ARGUMENT", errOf(t, rec).Code)
	}
	rec := do(t, api, http.MethodGet, "/v1/changes", "", "Last-Event-ID", "x")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestChangeFeedErrorEvent(t *testing.T) {
	api, _, feed, srv := newFeedServer(t, time.Hour)
	do(t, api, http.MethodPut, "/v1/collections/c/docs/a", `{}`)
	feed.mu.Lock()
	feed.fail = domain.Errorf(domain.CodeQueueFull, "watch", "subscriber fell behind")
	feed.mu.Unlock()

	c := openFeed(t, srv.URL, "?since=0")
	assert.Equal(t, "1", c.nextEvent().id)
	ev := c.nextEvent()
	assert.Equal(t, "error", ev.event)
	assert.JSONEq(t, `{"error":{"code":"QUEUE_FULL","message":"subscriber fell behind"}}`, ev.data)
	_, err := c.next()
	assert.ErrorIs(t, err, io.EOF, "the stream ends after the error")
}

func TestChangeFeedEndsWhenClientGoes(t *testing.T) {
	_, _, feed, srv := newFeedServer(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/changes", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	feed.mu.Lock()
	require.Len(t, feed.streams, 1)
	stream := feed.streams[0]
	feed.mu.Unlock()

	cancel()
	select {
	case <-stream.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription was not closed after the client went away")
	}
}

func TestChangeFeedHeartbeatAndCloseStreams(t *testing.T) {
	api, _, _, srv := newFeedServer(t, 20*time.Millisecond)
	c := openFeed(t, srv.URL, "")
	_, err := c.next() // the opening comment
	require.NoError(t, err)
	ev, err := c.next()
	require.NoError(t, err)
	assert.Equal(t, "keepalive", ev.comment)

	api.CloseStreams()
	for {
		_, err = c.next()
		if err != nil {
			break
		}
	}
	assert.True(t, errors.Is(err, io.EOF), "stream ends on CloseStreams: %v", err)

	rec := do(t, api, http.MethodGet, "/v1/changes", "")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "no new feeds while shutting down")
}

// Subscribers beyond MaxChangeFeeds get 503 QUEUE_FULL; a closed feed
// frees its place.
func TestChangeFeedSubscriberCap(t *testing.T) {
	docs := newFakeDocs()
	feed := newFakeFeed()
	docs.feed = feed
	srv := httptest.NewServer(New(Options{Documents: docs, Changes: feed, Heartbeat: time.Hour, MaxChangeFeeds: 3}))
	t.Cleanup(srv.Close)

	var open []*feedClient
	for range 3 {
		c := openFeed(t, srv.URL, "")
		require.Equal(t, http.StatusOK, c.resp.StatusCode)
		open = append(open, c)
	}
	over := openFeed(t, srv.URL, "")
	require.Equal(t, http.StatusServiceUnavailable, over.resp.StatusCode)
	var e errorBody
	require.NoError(t, json.NewDecoder(over.resp.Body).Decode(&e))
	assert.Equal(t, "QUEUE_FULL", e.Error.Code)

	require.NoError(t, open[0].resp.Body.Close())
	require.Eventually(t, func() bool {
		c := openFeed(t, srv.URL, "")
		defer c.resp.Body.Close()
		return c.resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "a closed feed frees its place")
}
