package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/entgldb/entgldb-go/client"
)

var collections = []string{"orders", "users", "events"}

// keysPerCollection is each worker's key space per collection: small, so
// keys are overwritten, deleted and written again many times.
const keysPerCollection = 60

type outcome int

const (
	acked    outcome = iota // 200: the write is durable on its node
	rejected                // nothing happened (4xx, connection refused)
	unknown                 // may or may not have happened (reset, timeout, 5xx)
)

// classify maps a response (or transport error) to an outcome.
func classify(status int, err error) outcome {
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return rejected
		}
		return unknown
	}
	switch {
	case status == http.StatusOK:
		return acked
	case status >= 400 && status < 500:
		return rejected
	default:
		return unknown
	}
}

// counter is one operation kind's outcomes.
type counter struct{ acked, rejected, unknown atomic.Int64 }

func (c *counter) add(o outcome) {
	switch o {
	case acked:
		c.acked.Add(1)
	case rejected:
		c.rejected.Add(1)
	default:
		c.unknown.Add(1)
	}
}

// loadStats are shared by the workers (atomics and a mutex-guarded list).
type loadStats struct {
	puts, deletes, batches, gets, queries counter
	ackedWrites                           atomic.Int64 // documents acknowledged (a batch counts each)

	mu         sync.Mutex
	violations []string
	nViolation int
}

func (s *loadStats) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nViolation++
	if len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf(format, args...))
	}
}

// worker is the only writer of its keys, through one node, one request at
// a time: the model of each key is exact.
type worker struct {
	node  *node
	owner string
	rnd   *rand.Rand
	keys  map[string][]*keyModel // by collection
	stats *loadStats
	seq   int
}

func newWorker(n *node, seed uint64, stats *loadStats) *worker {
	w := &worker{node: n, owner: fmt.Sprintf("n%d", n.idx), rnd: rand.New(rand.NewPCG(seed, uint64(n.idx))),
		keys: map[string][]*keyModel{}, stats: stats}
	for _, c := range collections {
		for j := 0; j < keysPerCollection; j++ {
			w.keys[c] = append(w.keys[c], newKeyModel(c, fmt.Sprintf("%s-%03d", w.owner, j)))
		}
	}
	return w
}

// run issues one operation per tick until ctx ends or maxOps are done.
func (w *worker) run(ctx context.Context, every time.Duration, maxOps int) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; i < maxOps; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.step(ctx)
	}
}

func (w *worker) body(key string) []byte {
	w.seq++
	b, _ := json.Marshal(map[string]any{
		"owner": w.owner, "k": key, "seq": w.seq, "v": w.rnd.IntN(1000),
		"tags": []string{fmt.Sprintf("t%d", w.rnd.IntN(5)), "soak"},
		"note": "the quick brown fox jumps over the lazy dog",
	})
	return b
}

type writeReply struct {
	Version  string            `json:"version"`
	Versions map[string]string `json:"versions"`
}

func (w *worker) step(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := collections[w.rnd.IntN(len(collections))]
	keys := w.keys[c]
	k := keys[w.rnd.IntN(len(keys))]
	node := w.node.proc.Client()
	switch r := w.rnd.IntN(100); {
	case r < 50: // put
		body := w.body(k.key)
		r, err := node.Do(rctx, http.MethodPut, client.DocPath(c, k.key), body)
		resp := r.Body
		o := classify(r.Status, err)
		w.stats.puts.add(o)
		switch o {
		case acked:
			var rep writeReply
			if json.Unmarshal(resp, &rep) != nil || rep.Version == "" {
				w.stats.violate("put %s/%s: 200 without a version: %s", c, k.key, resp)
				k.maybe(state{present: true, data: body})
				return
			}
			k.ack(state{present: true, data: body, version: rep.Version})
			w.stats.ackedWrites.Add(1)
		case unknown:
			k.maybe(state{present: true, data: body})
		}
	case r < 60: // delete
		r, err := node.Do(rctx, http.MethodDelete, client.DocPath(c, k.key), nil)
		status := r.Status
		o := classify(status, err)
		w.stats.deletes.add(o)
		switch {
		case o == acked:
			k.ack(state{})
			w.stats.ackedWrites.Add(1)
		case o == unknown:
			k.maybe(state{})
		case status == http.StatusNotFound && k.certain() && k.current().present:
			w.stats.violate("delete %s/%s: 404 but %s was acknowledged on this node", c, k.key, k.current())
		}
	case r < 70: // batch: a few puts and perhaps one delete, all or nothing
		w.batch(rctx, c, keys)
	case r < 85: // read your own writes on the writer's node
		if !k.certain() {
			return
		}
		r, err := node.Do(rctx, http.MethodGet, client.DocPath(c, k.key), nil)
		status, resp := r.Status, r.Body
		if err != nil || (status != http.StatusOK && status != http.StatusNotFound) {
			w.stats.gets.add(classify(status, err))
			return
		}
		w.stats.gets.add(acked)
		version := strings.Trim(r.Header.Get("ETag"), `"`)
		if present := status == http.StatusOK; !k.matches(present, resp, version) {
			w.stats.violate("read-your-writes %s/%s on %s: got present=%t %s@%s, want %s", c, k.key, w.owner, present, resp, version, k.current())
		}
	default: // query
		var path string
		if w.rnd.IntN(2) == 0 {
			where := fmt.Sprintf(`{"owner":%q,"v":{"$gt":%d}}`, w.owner, w.rnd.IntN(1000))
			path = "/v1/collections/" + c + "/docs?take=20&order_by=v&where=" + url.QueryEscape(where)
		} else {
			where := fmt.Sprintf(`{"$or":[{"tags":{"$contains":"t%d"}},{"owner":%q}]}`, w.rnd.IntN(5), w.owner)
			path = "/v1/collections/" + c + "/count?where=" + url.QueryEscape(where)
		}
		r, err := node.Do(rctx, http.MethodGet, path, nil)
		status, resp := r.Status, r.Body
		o := classify(status, err)
		if o == acked && !json.Valid(resp) {
			w.stats.violate("query %s: invalid JSON reply", path)
		}
		if status == http.StatusNotFound { // a collection not created yet on this node
			o = acked
		}
		w.stats.queries.add(o)
	}
}

func (w *worker) batch(ctx context.Context, c string, keys []*keyModel) {
	n := 2 + w.rnd.IntN(5)
	puts := map[string]json.RawMessage{}
	models := map[string]*keyModel{}
	for i := 0; i < n; i++ {
		k := keys[w.rnd.IntN(len(keys))]
		if _, dup := puts[k.key]; !dup {
			puts[k.key] = w.body(k.key)
			models[k.key] = k
		}
	}
	var del *keyModel
	// Delete only a key certainly present: a missing one fails the whole batch.
	if k := keys[w.rnd.IntN(len(keys))]; puts[k.key] == nil && k.certain() && k.current().present {
		del = k
	}
	req := map[string]any{"put": puts, "delete": []string{}}
	if del != nil {
		req["delete"] = []string{del.key}
	}
	body, _ := json.Marshal(req)
	r, err := w.node.proc.Client().Do(ctx, http.MethodPost, "/v1/collections/"+c+"/batch", body)
	resp := r.Body
	o := classify(r.Status, err)
	w.stats.batches.add(o)
	switch o {
	case acked:
		var rep writeReply
		if json.Unmarshal(resp, &rep) != nil {
			w.stats.violate("batch %s: 200 with an unreadable reply: %s", c, resp)
		}
		for key, data := range puts {
			if v := rep.Versions[key]; v != "" {
				models[key].ack(state{present: true, data: data, version: v})
			} else {
				w.stats.violate("batch %s: no version for %s in %s", c, key, resp)
				models[key].maybe(state{present: true, data: data})
			}
			w.stats.ackedWrites.Add(1)
		}
		if del != nil {
			del.ack(state{})
			w.stats.ackedWrites.Add(1)
		}
	case unknown:
		for key, data := range puts {
			models[key].maybe(state{present: true, data: data})
		}
		if del != nil {
			del.maybe(state{})
		}
	}
}
