package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// uiReps is how often each dashboard page is loaded (after one warm-up).
const uiReps = 7

// uiCountLimit is where the dashboard's counts stop (countLimit in app.js).
const uiCountLimit = 10000

// uiPageSize is the dashboard's documents page (PAGE in app.js).
const uiPageSize = 50

// uiPage is one dashboard page as adapters/webui/assets/app.js loads it:
// the calls before its first paint, made at once (Promise.all), then the
// calls that fill in after it, one after the other.
type uiPage struct {
	row, what string
	paint     []string
	after     []string
	// index, when set, is a field indexed (POST …/indexes, as the page
	// offers) before the page's loads.
	index string
}

// uiPages lists the pages of the ui rows over collection docsCollection.
func uiPages(docs int) []uiPage {
	c := "/v1/collections/" + docsCollection
	page := func(extra url.Values) string {
		q := url.Values{"take": {fmt.Sprint(uiPageSize)}, "skip": {"0"}}
		for k, v := range extra {
			q[k] = v
		}
		return c + "/docs?" + q.Encode()
	}
	count := func(where string) string {
		// The dashboard's bound on counts (an older node ignores it).
		q := url.Values{"limit": {fmt.Sprint(uiCountLimit)}}
		if where != "" {
			q.Set("where", where)
		}
		return c + "/count?" + q.Encode()
	}
	const filter = `{"active":true}`
	rare := fmt.Sprintf(`{"n":{"$gte":%d}}`, docs-docs/2000)
	// A page that holds every match (its reply says no more) is its count:
	// the dashboard then makes no count call.
	var rareCount []string
	if docs/2000 > uiPageSize {
		rareCount = []string{count(rare)}
	}
	key := docKey(docs / 2)
	return []uiPage{
		{"ui-overview", "overview: node, status, health and replication at once",
			[]string{"/v1/admin/node", "/v1/status", "/healthz", "/v1/admin/replication"}, nil, ""},
		{"ui-docs", "documents, first page, then the collection's count",
			[]string{page(nil)}, []string{count("")}, ""},
		{"ui-filtered", "documents filtered on an unindexed field (half match), then their count",
			[]string{page(url.Values{"where": {filter}})}, []string{count(filter)}, ""},
		{"ui-filtered-rare", "documents filtered on an unindexed field (0.05 % match: every document read), then their count unless the page holds them all",
			[]string{page(url.Values{"where": {rare}})}, rareCount, ""},
		{"ui-sorted", "documents sorted on an unindexed number field",
			[]string{page(url.Values{"order_by": {"score"}})}, nil, ""},
		{"ui-document", "one document, then its history",
			[]string{c + "/docs/" + key}, []string{c + "/docs/" + key + "/history"}, ""},
		// Last: the index stays.
		{row: "ui-filtered-rare-indexed", what: "the rare filter after the index the page offers (POST …/indexes {\"path\":\"n\"}, not timed), then its count unless the page holds them all",
			paint: []string{page(url.Values{"where": {rare}})}, after: rareCount, index: "n"},
	}
}

// uiResult is the timings of one page: to its first paint, and to the end
// of the calls that follow it.
type uiResult struct {
	page         uiPage
	paint, after latencies
	err          error
}

// benchUI loads docs ~500-byte documents into an in-process node serving
// its HTTP API and dashboard, then loads each dashboard page uiReps times
// over loopback with the node's admin key, as the browser would.
func benchUI(ctx context.Context, root string, docs int, logf func(string, ...any)) ([]uiResult, error) {
	cfg, err := nodeConfig(filepath.Join(root, "ui-node"), "bench-ui", nil)
	if err != nil {
		return nil, err
	}
	port, err := nodeproc.FreePort()
	if err != nil {
		return nil, err
	}
	cfg.Http.Enabled = true
	cfg.Http.Address = fmt.Sprintf("127.0.0.1:%d", port)
	node, err := openNode(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer stopNode(node)
	logf("ui: loading %d docs", docs)
	rnd := rand.New(rand.NewPCG(13, 14))
	coll := database(node).Collection(docsCollection)
	for lo := 0; lo < docs; lo += batchSize {
		b := app.Batch{Puts: make(map[string][]byte, batchSize)}
		for i := lo; i < min(lo+batchSize, docs); i++ {
			b.Puts[docKey(i)] = docBody(i, rnd)
		}
		if _, err := coll.Batch(ctx, b); err != nil {
			return nil, fmt.Errorf("batch at %d: %w", lo, err)
		}
	}
	key, err := apikeys.ReadAdminKey(filepath.Join(filepath.Dir(cfg.Persistence.DatabasePath), config.DefaultAdminKeyFileName))
	if err != nil {
		return nil, err
	}
	base := "http://" + cfg.Http.Address
	// The browser keeps a few connections to one host open.
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 6}}
	call := func(method, path string, body io.Reader) error {
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s: %s", method, path, res.Status)
		}
		return nil
	}
	get := func(path string) error { return call(http.MethodGet, path, nil) }
	var out []uiResult
	for _, p := range uiPages(docs) {
		logf("ui: %s", p.row)
		r := uiResult{page: p}
		if p.index != "" {
			r.err = call(http.MethodPost, "/v1/collections/"+docsCollection+"/indexes", strings.NewReader(`{"path":"`+p.index+`"}`))
		}
		for rep := -1; rep < uiReps && r.err == nil; rep++ { // stops at an error
			t0 := time.Now()
			if r.err = getAll(get, p.paint); r.err != nil {
				break
			}
			paint := time.Since(t0)
			for _, path := range p.after {
				if r.err = get(path); r.err != nil {
					break
				}
			}
			if rep >= 0 {
				r.paint, r.after = append(r.paint, paint), append(r.after, time.Since(t0))
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// getAll makes the calls at once and waits for all.
func getAll(get func(string) error, paths []string) error {
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = get(path)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (r uiResult) row(docs int) result {
	what := fmt.Sprintf("%s, %d docs of ~500 B, loopback HTTP, %d loads: %s", r.page.what, docs, len(r.paint), strings.Join(r.page.paint, " + "))
	if r.err != nil {
		return result{r.page.row, what, na(firstLine(r.err.Error())), "target ≤ 200 ms"}
	}
	value := fmt.Sprintf("first paint p50 %s · p99 %s", fmtDur(r.paint.pct(50)), fmtDur(r.paint.pct(99)))
	beside := "target ≤ 200 ms"
	if len(r.page.after) > 0 {
		beside = fmt.Sprintf("complete (%s) p50 %s · p99 %s; %s", strings.Join(r.page.after, ", "), fmtDur(r.after.pct(50)), fmtDur(r.after.pct(99)), beside)
	}
	return result{r.page.row, what, value, beside}
}
