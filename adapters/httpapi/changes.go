package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// changeEvent is the data of one Server-Sent Event of /v1/changes.
type changeEvent struct {
	Seq        int64           `json:"seq"`
	Collection string          `json:"collection"`
	Key        string          `json:"key"`
	Op         string          `json:"op"` // "put" or "delete"
	Version    string          `json:"version"`
	Data       json.RawMessage `json:"data"` // null for a delete
	Remote     bool            `json:"remote"`
}

// GET /v1/changes?since=SEQ: one event per applied change (local or
// remote) as `id: <seq>` and `data: <change JSON>`. Without since (or
// Last-Event-ID) only changes from now on are sent; with it, everything
// after that sequence first, so a client that reconnects (EventSource sends
// Last-Event-ID itself) misses nothing. Documents a snapshot bootstrap
// changed come as events with seq 0 and no id (they have no oplog
// position), so the last id stays the one to resume from; a resume does not
// repeat them. The stream ends when the client goes, the server shuts
// down, or the subscription fails (an `event: error` is sent first;
// QUEUE_FULL means the client read too slowly and should reconnect;
// UNAUTHORIZED that the key was revoked). A key sees only the changes of
// the collections it may read.
func (a *API) changes(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.Changes"
	since := int64(-1)
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			a.writeError(w, r, badRequest(op, "since=%q must be the id (sequence number) of a change event", s))
			return
		}
		since = n
	}
	// A reconnecting EventSource repeats the original URL; its Last-Event-ID is newer.
	if s := strings.TrimSpace(r.Header.Get("Last-Event-ID")); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			a.writeError(w, r, badRequest(op, "Last-Event-ID %q must be the id of a change event", s))
			return
		}
		since = n
	}
	select {
	case <-a.closing:
		a.writeError(w, r, domain.Errorf(domain.CodeNetwork, op, "the node is shutting down"))
		return
	default:
	}
	if n := a.feeds.Add(1); n > int64(a.opts.MaxChangeFeeds) {
		a.feeds.Add(-1)
		a.writeError(w, r, domain.Errorf(domain.CodeQueueFull, op,
			"too many change feed subscribers (%d, Http.MaxChangeFeeds); try again later", a.opts.MaxChangeFeeds))
		return
	}
	defer a.feeds.Add(-1)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := a.opts.Changes.Watch(ctx, since)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer stream.Close()

	rc := http.NewResponseController(w)
	// The server's WriteTimeout bounds whole responses; a feed is open-ended.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(": entgldb change feed\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		a.log.Warn("change feed: response cannot be flushed")
		return
	}

	heartbeat := time.NewTicker(a.opts.Heartbeat)
	defer heartbeat.Stop()
	who := callerOf(r)
	for {
		var frame []byte
		select {
		case <-ctx.Done():
			return
		case <-a.closing:
			return
		case <-heartbeat.C:
			frame = []byte(": keepalive\n\n")
		case c, ok := <-stream.C():
			if !ok {
				if err := stream.Err(); err != nil && ctx.Err() == nil {
					a.endFeed(w, rc, err)
				}
				return
			}
			// Filtered here, event by event: a key never sees a change of a
			// collection it may not read, not even its name.
			if !who.access.CanRead(c.Collection) {
				continue
			}
			frame = eventFrame(c)
		}
		// A key revoked while its feed is open loses the feed at the next
		// event or heartbeat.
		if !a.stillValid(who) {
			a.endFeed(w, rc, domain.Errorf(domain.CodeUnauthorized, op, "the API key was revoked"))
			return
		}
		if _, err := w.Write(frame); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// endFeed sends the event that says why a feed ends.
func (a *API) endFeed(w http.ResponseWriter, rc *http.ResponseController, err error) {
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: string(codeOf(err)), Message: domain.Message(err)}})
	_, _ = w.Write([]byte("event: error\ndata: " + string(b) + "\n\n"))
	_ = rc.Flush()
}

// eventFrame renders one change as an SSE event; the JSON is one line, as
// SSE data requires (encoding/json escapes newlines inside strings).
func eventFrame(c domain.Change) []byte {
	ev := changeEvent{
		Seq: c.Seq, Collection: c.Collection, Key: c.Key, Op: strings.ToLower(c.Op.String()),
		Version: c.Stamp.String(), Remote: c.Remote,
	}
	if c.Op == domain.OpPut && json.Valid(c.Data) {
		ev.Data = c.Data
	}
	// Marshal compacts RawMessage too, so a document stored with newlines
	// cannot break the single SSE data line. It cannot fail: Data is valid or nil.
	b, _ := json.Marshal(ev)
	out := make([]byte, 0, len(b)+32)
	// Seq 0 (a snapshot's change) is no position: without an id line the
	// client's Last-Event-ID stays the last real one, so ids keep increasing.
	if c.Seq != 0 {
		out = append(out, "id: "...)
		out = strconv.AppendInt(out, c.Seq, 10)
		out = append(out, '\n')
	}
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}
