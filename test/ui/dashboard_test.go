// Package ui drives the node's dashboard in a real browser: headless
// Chromium (Debian's chromium package, installed by `make test-deps`)
// through the DevTools protocol (chromedp), against real node processes on
// loopback. Every step waits on a condition in the page under a deadline.
package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// ScreenshotsEnv names the directory the test writes its screenshots to
// (make ui-screenshots sets it to docs/ui); unset, none are written.
const ScreenshotsEnv = "ENTGLDB_UI_SCREENSHOTS"

// Deadlines: one browser step, one node start.
const (
	stepWithin  = 45 * time.Second
	readyWithin = 30 * time.Second
)

var binPath string

func TestMain(m *testing.M) {
	bin, remove, err := nodeproc.BuildTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building entgldb:", err)
		os.Exit(1)
	}
	binPath = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

// startPair starts two nodes that are each other's static peer.
func startPair(t *testing.T) (a, b *nodeproc.Proc) {
	t.Helper()
	nodes := make([]*nodeproc.Proc, 2)
	for i := range nodes {
		p, err := nodeproc.New(binPath, nodeproc.Spec{Dir: t.TempDir(), NodeID: fmt.Sprintf("ui-%d", i), AuthToken: "ui-cluster",
			SyncIntervalMs: 200, RetryDelayMs: 50, ConnectionTimeoutMs: 1000})
		require.NoError(t, err)
		t.Cleanup(func() {
			if err := p.Kill(); err != nil {
				t.Error(err)
			}
		})
		nodes[i] = p
	}
	nodes[0].SetPeers([]string{nodes[1].PeerAddr()})
	nodes[1].SetPeers([]string{nodes[0].PeerAddr()})
	for _, p := range nodes {
		require.NoError(t, p.Start(context.Background(), readyWithin), p.LogTail(30))
	}
	return nodes[0], nodes[1]
}

// newBrowser starts headless Chromium with a fresh profile; the browser
// ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	_, err := os.Stat(ChromiumPath)
	require.NoError(t, err, "headless Chromium is missing: run `make test-deps` (it installs Debian's chromium package)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox, // root in a container has no user namespaces for the sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as this
	// run's context: no deadline here (chromedp.Run).
	require.NoError(t, chromedp.Do(ctx), "starting Chromium")
	return ctx
}

// page is the browser bound to a test and the node it shows.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot directory, "" for none
}

// run runs actions under the step deadline.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepWithin)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(what, err)
	}
}

// fail ends the test with what the page showed.
func (p *page) fail(what string, err error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	p.t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
}

// until waits until the JavaScript expression is true in the page.
func (p *page) until(what, expr string) {
	p.t.Helper()
	p.run(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(stepWithin-time.Second)))
}

// eval evaluates an expression in the page (awaiting a promise).
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepWithin)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluate "+expr, err)
	}
	return v
}

// text is the text of the element sel.
func (p *page) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepWithin)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.fail("text of "+sel, err)
	}
	return v
}

func (p *page) open(hash string) {
	p.t.Helper()
	eval[string](p, "location.hash = "+jsString(hash))
}

// screenshot saves the page as name.png when screenshots are asked for.
func (p *page) screenshot(name string) {
	p.t.Helper()
	if p.shot == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepWithin)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.NoError(p.t, os.WriteFile(filepath.Join(p.shot, name+".png"), png, 0o644))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// eventually waits for cond with a deadline (for what the nodes do, not the page).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, stepWithin, 100*time.Millisecond, what)
}

// makeKey makes a users:r key on node n through the API and returns its id.
func makeKey(t *testing.T, n *nodeproc.Proc, name string) string {
	t.Helper()
	resp, err := n.Client().Do(context.Background(), http.MethodPost, "/v1/admin/keys",
		[]byte(`{"name":"`+name+`","scopes":["users:r"]}`), "Content-Type", "application/json")
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var made struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &made))
	return made.ID
}

func docValue(c *client.Client, collection, key string) (map[string]any, bool) {
	d, err := c.Get(context.Background(), collection, key)
	if err != nil {
		return nil, false
	}
	var v map[string]any
	return v, json.Unmarshal(d.Data, &v) == nil
}

// The dashboard end to end: sign in, overview, browse and filter, edit and
// delete a document and see it on the other node, the live change feed, a
// backup, the replication matrix and chain check, a peer going down and
// coming back, and sign out.
func TestDashboardInABrowser(t *testing.T) {
	a, b := startPair(t)
	ctx := context.Background()
	users := map[string]json.RawMessage{}
	for i := range 120 {
		users[fmt.Sprintf("u%03d", i)] = json.RawMessage(fmt.Sprintf(`{"name":"user %03d","age":%d,"city":"%s"}`, i, 18+i%60, []string{"Rome", "Oslo", "Lima"}[i%3]))
	}
	_, err := a.Client().Batch(ctx, "users", users, nil)
	require.NoError(t, err)
	_, err = a.Client().Put(ctx, "orders", "o1", []byte(`{"total":12}`))
	require.NoError(t, err)
	eventually(t, "node b has every user", func() bool {
		n, err := b.Client().Count(ctx, "users", "")
		return err == nil && n == 120
	})

	shots := os.Getenv(ScreenshotsEnv)
	if shots != "" {
		require.NoError(t, os.MkdirAll(shots, 0o755))
	}
	p := &page{t: t, ctx: newBrowser(t), base: "http://" + a.HTTPAddr, shot: shots}

	t.Run("sign in", func(t *testing.T) {
		p.t = t
		p.run("load", chromedp.Navigate(p.base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#login-key")))
		p.run("wrong key", chromedp.SendKeys(chromedp.CSS("#login-key"), "egk_wrong"), chromedp.Click(chromedp.CSS("#login-btn")))
		p.until("wrong key refused", `document.querySelector('#login-error').textContent.includes('not valid')`)
		p.run("admin key", chromedp.SetValue(chromedp.CSS("#login-key"), a.AdminKey()), chromedp.Click(chromedp.CSS("#login-btn")))
		p.until("overview shows the node", `document.querySelector('#ov-node')?.textContent === 'ui-0'`)
		cookies := eval[string](p, `document.cookie`)
		require.Empty(t, cookies, "the session cookie is HttpOnly: scripts see nothing")
		leftKey := eval[bool](p, `document.body.innerText.includes(`+jsString(a.AdminKey())+`)`)
		require.False(t, leftKey, "the key is not shown once signed in")
	})

	t.Run("overview", func(t *testing.T) {
		p.t = t
		p.until("peer b connected", `document.querySelector('#peers tr[data-peer="ui-1"].up') !== null`)
		p.until("health shown", `document.querySelector('#ov-health').textContent === 'healthy'`)
		p.until("rates sampled", `document.querySelector('#chart-writes polyline').getAttribute('points').split(' ').length >= 2`)
		for i := range 40 {
			_, err := a.Client().Put(ctx, "events", fmt.Sprintf("e%02d", i), []byte(`{"kind":"click"}`))
			require.NoError(t, err)
		}
		// The chart's label carries its newest sample and its maximum.
		p.until("the writes show in the chart", `/max ([0-9.]+)/.exec(document.querySelector('#chart-writes-label').textContent)?.[1] >= 2`)
		p.screenshot("overview")
	})

	t.Run("browse and filter", func(t *testing.T) {
		p.t = t
		p.open("#/collections")
		p.until("collections listed", `document.querySelector('tr[data-collection="users"] .count')?.textContent === '120'`)
		p.run("open users", chromedp.Click(chromedp.CSS(`tr[data-collection="users"]`)))
		p.until("first page", `document.querySelectorAll('#documents tbody tr').length === 50 && document.querySelector('#docs-status').textContent.startsWith('120 documents')`)
		p.run("next page", chromedp.Click(chromedp.CSS("#page-next")))
		p.until("second page", `document.querySelector('#docs-status').textContent.includes('51–100')`)

		want, err := a.Client().Count(ctx, "users", `{"city":"Oslo","age":{"$gte":40}}`)
		require.NoError(t, err)
		require.Positive(t, want)
		p.run("filter", chromedp.SetValue(chromedp.CSS("#filter-where"), `{"city":"Oslo","age":{"$gte":40}}`), chromedp.Click(chromedp.CSS("#filter-apply")))
		p.until("filtered", fmt.Sprintf(`document.querySelector('#docs-status')?.textContent.startsWith('%d documents match') && document.querySelectorAll('#documents tbody tr').length === %d`, want, min(want, 50)))
		p.run("sort by age", chromedp.Click(chromedp.CSS(`th[data-field="age"]`)))
		p.until("sorted ascending", `location.hash.includes('order=age') && document.querySelector('th[data-field="age"]')?.textContent.includes('▲')`)
		ages := eval[[]float64](p, `[...document.querySelectorAll('#documents tbody tr')].map(r => Number(r.children[[...document.querySelectorAll('#documents th')].findIndex(th => th.dataset.field === 'age')].textContent))`)
		require.NotEmpty(t, ages)
		for i := 1; i < len(ages); i++ {
			require.LessOrEqual(t, ages[i-1], ages[i], "sorted by age: %v", ages)
		}
		require.GreaterOrEqual(t, ages[0], 40.0, "the filter still holds")
		p.screenshot("documents")

		p.run("bad filter", chromedp.SetValue(chromedp.CSS("#filter-where"), `{"age":{"$nope":1}}`), chromedp.Click(chromedp.CSS("#filter-apply")))
		p.until("the API's error shown", `document.querySelector('#error')?.textContent.length > 0`)
	})

	t.Run("the index offer", func(t *testing.T) {
		p.t = t
		// Any filter is slow enough to offer an index: the collection is small.
		eval[int](p, `state.slowMs = 0`)
		const where = `{"age":{"$gte":70}}`
		want, err := a.Client().Count(ctx, "users", where)
		require.NoError(t, err)
		require.Positive(t, want)
		p.open("#/c/users?where=" + url.QueryEscape(where))
		done := fmt.Sprintf(`document.querySelector('#docs-status')?.textContent.startsWith('%d documents match')`, want)
		p.until("the offer", done+` && document.querySelector('#index-offer button[data-index="age"]') !== null`)
		keys := `[...document.querySelectorAll('#documents tbody tr')].map(r => r.dataset.key).join(',')`
		before := eval[string](p, keys)
		p.run("index age", chromedp.Click(chromedp.CSS(`#index-offer button[data-index="age"]`)))
		p.until("indexed, the page reloaded without the offer", `document.querySelector('#flash').textContent === 'Indexed age' && `+
			done+` && document.querySelector('#index-offer') === null`)
		require.Equal(t, before, eval[string](p, keys), "the same documents through the index")
		require.Equal(t, want, len(strings.Split(before, ",")))
		eval[int](p, `state.slowMs = 200`)
	})

	t.Run("edit a document and see it on the other node", func(t *testing.T) {
		p.t = t
		p.open("#/c/users/d/u007")
		p.until("document shown", `document.querySelector('#doc-json')?.textContent.includes('"user 007"')`)
		require.Equal(t, "ui-0", p.text("#doc-author"))
		p.until("history shown", `document.querySelector('#history table') !== null || document.querySelector('#history p') !== null`)
		p.run("edit", chromedp.Click(chromedp.CSS("#doc-edit")), chromedp.WaitVisible(chromedp.CSS("#doc-editor")))
		p.run("invalid JSON", chromedp.SetValue(chromedp.CSS("#doc-editor"), `{"name": `), chromedp.Click(chromedp.CSS("#doc-save")))
		p.until("validation refuses it", `document.querySelector('#doc-problem').textContent.startsWith('Not valid')`)
		p.run("valid JSON", chromedp.SetValue(chromedp.CSS("#doc-editor"), `{"name":"edited in the browser","age":99,"city":"Oslo"}`),
			chromedp.Click(chromedp.CSS("#doc-save")))
		p.until("saved", `document.querySelector('#doc-json')?.textContent.includes('edited in the browser')`)
		p.screenshot("document")
		eventually(t, "node b has the edit", func() bool {
			v, ok := docValue(b.Client(), "users", "u007")
			return ok && v["name"] == "edited in the browser"
		})
	})

	t.Run("delete a document and see it gone on the other node", func(t *testing.T) {
		p.t = t
		p.open("#/c/users/d/u008")
		p.until("document shown", `document.querySelector('#doc-json')?.textContent.includes('"user 008"')`)
		p.run("delete", chromedp.Click(chromedp.CSS("#doc-delete")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
		p.run("cancel", chromedp.Click(chromedp.CSS("#confirm-no")), chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		require.True(t, func() bool { _, ok := docValue(a.Client(), "users", "u008"); return ok }(), "cancel deletes nothing")
		p.run("delete again", chromedp.Click(chromedp.CSS("#doc-delete")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
			chromedp.Click(chromedp.CSS("#confirm-yes")))
		p.until("back at the collection", `location.hash.startsWith('#/c/users') && !location.hash.includes('/d/')`)
		eventually(t, "node b lost u008", func() bool {
			_, err := b.Client().Get(ctx, "users", "u008")
			return errors.Is(err, domain.ErrNotFound)
		})
	})

	t.Run("live change feed", func(t *testing.T) {
		p.t = t
		p.open("#/changes")
		p.until("feed open", `document.querySelector('#feed-state')?.textContent === 'live'`)
		_, err := b.Client().Put(ctx, "users", "live-1", []byte(`{"name":"written on node b"}`))
		require.NoError(t, err)
		p.until("the remote write arrives", `document.querySelector('#feed li[data-key="live-1"]')?.textContent.includes('remote')`)
		_, err = a.Client().Put(ctx, "orders", "live-2", []byte(`{"total":3}`))
		require.NoError(t, err)
		p.until("the local write arrives", `document.querySelector('#feed li[data-key="live-2"]') !== null`)
		_, err = b.Client().Batch(ctx, "users", map[string]json.RawMessage{
			"live-3": json.RawMessage(`{"name":"c"}`), "live-4": json.RawMessage(`{"name":"d"}`)}, []string{"u010"})
		require.NoError(t, err)
		p.until("a remote delete arrives", `document.querySelector('#feed li[data-key="u010"]')?.textContent.includes('delete')`)
		p.screenshot("changes")
		p.run("filter", chromedp.SendKeys(chromedp.CSS("#feed-filter"), "orders/"))
		p.until("filtered", `document.querySelector('#feed li[data-key="live-1"]') === null && document.querySelector('#feed li[data-key="live-2"]') !== null`)
	})

	t.Run("take a backup and download it", func(t *testing.T) {
		p.t = t
		p.open("#/backups")
		p.until("page shown", `document.querySelector('#backup-take') !== null && document.querySelector('#backups p, #backup-list') !== null`)
		p.run("take", chromedp.Click(chromedp.CSS("#backup-take")))
		p.until("listed", `document.querySelectorAll('#backup-list tbody tr').length >= 1`)
		got := eval[struct {
			Status int    `json:"status"`
			Size   int    `json:"size"`
			Type   string `json:"type"`
		}](p, `(async () => { const r = await fetch(document.querySelector('#backup-list a.download').href);
			const b = await r.arrayBuffer(); return {status: r.status, size: b.byteLength, type: r.headers.get('Content-Type')}; })()`)
		require.Equal(t, http.StatusOK, got.Status)
		require.Greater(t, got.Size, 4096, "a SQLite database file")
		require.Equal(t, "application/octet-stream", got.Type)
		p.screenshot("backups")
	})

	t.Run("replication matrix and chain check", func(t *testing.T) {
		p.t = t
		p.open("#/replication")
		p.until("matrix", `document.querySelector('#replication tr[data-replica="ui-1"]') !== null`)
		p.run("verify", chromedp.Click(chromedp.CSS("#chain-check")))
		p.until("chains verified", `document.querySelectorAll('#chain-list tr.intact').length === 2 && document.querySelectorAll('#chain-list tr.broken').length === 0`)
		p.screenshot("replication")
	})

	t.Run("a peer goes down and comes back", func(t *testing.T) {
		p.t = t
		p.open("#/")
		p.until("peer b up", `document.querySelector('#peers tr[data-peer="ui-1"].up') !== null`)
		_, err := b.Stop(readyWithin)
		require.NoError(t, err)
		p.until("peer b shown down", `document.querySelector('#peers tr[data-peer="ui-1"].down') !== null`)

		// Written while b is away: the matrix says b lacks them.
		missed := map[string]json.RawMessage{}
		for i := range 25 {
			missed[fmt.Sprintf("late%02d", i)] = json.RawMessage(`{"name":"written while b was down"}`)
		}
		_, err = a.Client().Batch(ctx, "users", missed, nil)
		require.NoError(t, err)
		p.until("b shown behind", `document.querySelector('#peers tr[data-peer="ui-1"] td:nth-child(6)')?.textContent === '25 entries'`)
		p.open("#/replication")
		p.until("the matrix shows what b lacks", `document.querySelector('#replication tr[data-replica="ui-1"] td.part')?.textContent.includes('25 behind')`)
		p.screenshot("replication-behind")

		require.NoError(t, b.Start(ctx, readyWithin), b.LogTail(30))
		p.open("#/")
		p.until("peer b back", `document.querySelector('#peers tr[data-peer="ui-1"].up') !== null`)
		p.until("and caught up", `document.querySelector('#peers tr[data-peer="ui-1"] td:nth-child(6)')?.textContent === '0 entries'`)
	})

	t.Run("keys: a read-only session cannot write", func(t *testing.T) {
		p.t = t
		p.open("#/keys")
		p.run("create", chromedp.WaitVisible(chromedp.CSS("#key-name")),
			chromedp.SetValue(chromedp.CSS("#key-name"), "reader"), chromedp.SetValue(chromedp.CSS("#key-scopes"), "users:r"),
			chromedp.Click(chromedp.CSS("#key-create")))
		p.until("key shown once", `document.querySelector('#key-secret')?.textContent.startsWith('egk_')`)
		key := p.text("#key-secret")
		p.until("listed", `[...document.querySelectorAll('#key-list tbody tr')].some(r => r.children[1].textContent === 'reader')`)

		// Revoking asks first; a made key is then refused from the next request.
		spare := makeKey(t, a, "spare")
		p.open("#/none")
		p.open("#/keys")
		sel := fmt.Sprintf(`#key-list tr[data-id="%s"] button`, spare)
		p.run("revoke once", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		p.until("asked to confirm", fmt.Sprintf(`document.querySelector('%s')?.textContent.includes('sure?')`, sel))
		p.run("revoke", chromedp.Click(chromedp.CSS(sel)))
		p.until("gone", fmt.Sprintf(`document.querySelector('#key-list tr[data-id="%s"]') === null`, spare))
		p.run("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-key")))
		status := eval[int](p, `fetch('/v1/collections', {headers: {'X-Entgldb-Csrf': '1'}}).then(r => r.status)`)
		require.Equal(t, http.StatusUnauthorized, status, "signed out: the cookie opens nothing")

		p.run("sign in as reader", chromedp.SetValue(chromedp.CSS("#login-key"), key), chromedp.Click(chromedp.CSS("#login-btn")))
		p.until("no admin pages", `!document.querySelector('#nav').hidden && document.querySelector('#nav-keys').hidden`)
		status = eval[int](p, `fetch('/v1/collections/users/docs/u009', {method: 'PUT', headers: {'Content-Type': 'application/json', 'X-Entgldb-Csrf': '1'}, body: '{"x":1}'}).then(r => r.status)`)
		require.Equal(t, http.StatusForbidden, status, "the session has the key's scopes, no more")
		status = eval[int](p, `fetch('/v1/status').then(r => r.status)`)
		require.Equal(t, http.StatusForbidden, status)
		status = eval[int](p, `fetch('/v1/collections/orders/docs').then(r => r.status)`)
		require.Equal(t, http.StatusForbidden, status)
		status = eval[int](p, `fetch('/v1/collections/users/docs/u009').then(r => r.status)`)
		require.Equal(t, http.StatusOK, status)
	})
}
