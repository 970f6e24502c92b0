// Command bench measures entgldb-go on this machine beside raw SQLite
// baselines taken in the same run, prints one markdown table (also written
// to bench-results.md) and, last, a machine-readable BENCH line. Run it
// from the module: `go run ./test/bench` (make bench). Rows whose part
// fails print `n/a (reason)` rather than a number.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

type options struct {
	out         string
	docs        int
	puts        int
	gets        int
	finds       int
	elemMatches int
	meshSize    int
	writes      int
	noops       int
	handshakes  int
	httpPuts    int
	diskUpdates int
	keep        bool
	timeout     time.Duration
	cpuProf     string
	only        string
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "bench-results.md", "file the table is written to")
	flag.IntVar(&o.docs, "docs", 100_000, "documents for the batch, find, bootstrap and no-op rows (a multiple of 1,000)")
	flag.IntVar(&o.puts, "puts", 5_000, "single Puts for the put row")
	flag.IntVar(&o.gets, "gets", 5_000, "distinct keys read for the get rows")
	flag.IntVar(&o.finds, "finds", 200, "queries for the find row")
	flag.IntVar(&o.elemMatches, "elemmatches", 5, "queries for the $elemMatch row (each reads the whole collection)")
	flag.IntVar(&o.meshSize, "mesh", 10, "nodes in the convergence mesh")
	flag.IntVar(&o.writes, "writes", 200, "writes timed in the convergence mesh")
	flag.IntVar(&o.noops, "noops", 9, "in-sync rounds timed")
	flag.IntVar(&o.handshakes, "handshakes", 400, "sessions opened for the handshake row (half each way)")
	flag.IntVar(&o.diskUpdates, "disk-updates", 1_000_000, "updates over 1,000 keys for the disk and maintenance rows")
	flag.IntVar(&o.httpPuts, "httpputs", 2_000, "single Puts over HTTP per round and side for the put-http row")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "overall bound")
	flag.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the in-process rows to this file (go tool pprof)")
	flag.StringVar(&o.only, "only", "", "run only these row groups, comma-separated: local, http, httpput, verify, converge, handshake, rss, maint, ui (default all)")
	flag.Parse()
	if o.diskUpdates < 1000 {
		fmt.Fprintln(os.Stderr, "bench: -disk-updates must be at least 1000")
		os.Exit(2)
	}
	if o.docs < 1000 || o.docs%1000 != 0 {
		fmt.Fprintln(os.Stderr, "bench: -docs must be a positive multiple of 1000")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	os.Exit(run(ctx, o))
}

// summary holds the figures of the BENCH line.
type summary struct {
	rawPut, put, rawBatch, batch float64
	bootstrap, bootstrapProc     float64
	verifyNs                     float64
	convergeP99                  time.Duration
	handshakeP50                 time.Duration
	idleRSS                      int64
	in1000P50                    time.Duration
	diskRatio, maintP99Ratio     float64
	httpPutRatio, httpC8Gain     float64 // HTTP ÷ in process; 8 clients ÷ 1
	dbBytesRatio                 float64
}

func run(ctx context.Context, o options) int {
	root, err := os.MkdirTemp("", "entgldb-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "bench: keeping", root)
	} else {
		defer os.RemoveAll(root)
	}
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	var rows []result
	var s summary
	add := func(r result) { rows = append(rows, r); logf("%s", r) }

	want := func(group string) bool { return o.only == "" || strings.Contains(","+o.only+",", ","+group+",") }
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	local := localResult{srcErr: "skipped (-only)"}
	if want("local") {
		local = runLocal(ctx, o, root, &s, logf)
		for _, r := range local.rows(o, s) {
			add(r)
		}
	}

	// The cost of the API key check on a single Put over HTTP, same run.
	if !want("http") {
		logf("put-http: skipped")
	} else if r, err := benchHTTPAuth(ctx, root, o.httpPuts); err != nil {
		add(result{"put-http", "single acknowledged Put over loopback HTTP, with and without the API key check", na(firstLine(err.Error())), "—"})
	} else {
		add(r.row(o.httpPuts))
	}
	// Checking the authors of a peer's entries (issue 15), per entry.
	if !want("verify") {
		logf("verify: skipped")
	} else if ns, err := benchVerify(); err != nil {
		add(result{"verify", "entry verification (proof of author), per entry", na(firstLine(err.Error())), "—"})
	} else {
		s.verifyNs = ns
		beside := "—"
		if local.bootRate > 0 {
			beside = fmt.Sprintf("%.1f %% of a bootstrapped document's time, same run", 100*ns/(1e9/local.bootRate))
		}
		add(result{"verify", fmt.Sprintf("entry verification (content digest and link, one ed25519 signature per %d-entry run), ~500 B docs", verifyPage),
			fmt.Sprintf("%.0f ns/entry", ns), beside})
	}

	// Single Puts over HTTP to a node process, 1 and 8 clients, beside the
	// same Put in process.
	if !want("httpput") {
		logf("put-http-1/8: skipped")
	} else if r, err := runHTTPPut(ctx, root, o.httpPuts); err != nil {
		add(result{"put-http-1", "single acknowledged Put over loopback HTTP to a node process", na(firstLine(err.Error())), "—"})
	} else {
		s.httpPutRatio, s.httpC8Gain = r.one/r.inProc, r.many/r.one
		for _, row := range r.rows(o.httpPuts) {
			add(row)
		}
	}

	// Convergence in a 10-node in-process mesh.
	logf("converge: %d-node mesh, %d writes", o.meshSize, o.writes)
	if !want("converge") {
		logf("converge: skipped")
	} else if lat, err := benchConverge(ctx, filepath.Join(root, "mesh"), o.meshSize, o.writes); err != nil {
		add(result{"converge", fmt.Sprintf("%d-node loopback mesh, commit → all nodes", o.meshSize), na(err.Error()), "—"})
	} else {
		s.convergeP99 = lat.pct(99)
		add(result{"converge", fmt.Sprintf("%d-node loopback mesh, commit → all nodes, %d writes", o.meshSize, len(lat)),
			fmt.Sprintf("p50 %.1f ms · p99 %.1f ms", ms(lat.pct(50)), ms(lat.pct(99))), "target p99 < 100 ms"})
	}

	// Session set-up: the Go handshake beside the family's, same run.
	if !want("handshake") {
		logf("handshake: skipped")
	} else if noise, legacy, err := handshakeRates(ctx, root, o.handshakes/2); err != nil {
		add(result{"handshake", "new sync session to a node (TCP + handshake)", na(firstLine(err.Error())), "—"})
	} else {
		s.handshakeP50 = noise.pct(50)
		add(result{"handshake", fmt.Sprintf("new sync session to a node, TCP + Noise NNpsk0 + ed25519 identity proofs, %d sessions", len(noise)),
			fmt.Sprintf("p50 %.2f ms · p99 %.2f ms", ms(noise.pct(50)), ms(noise.pct(99))),
			fmt.Sprintf("family v5 secure handshake (P-256, token sent), same run: p50 %.2f ms · p99 %.2f ms", ms(legacy.pct(50)), ms(legacy.pct(99)))})
	}

	// Real processes for memory.
	bin := filepath.Join(root, "entgldb")
	if !want("rss") {
		logf("rss: skipped")
	} else if err := nodeproc.Build(ctx, bin); err != nil {
		add(result{"rss idle", "idle node process, VmRSS", na("build: " + firstLine(err.Error())), "target < 40 MB"})
		add(result{"rss bootstrap", "node process after bootstrapping", na("build failed"), "—"})
		add(result{"bootstrap-proc", "empty node process bootstraps from another", na("build failed"), "—"})
	} else {
		if rss, err := rssIdle(ctx, bin, root); err != nil {
			add(result{"rss idle", "idle node process, VmRSS", na(firstLine(err.Error())), "target < 40 MB"})
		} else {
			s.idleRSS = rss
			add(result{"rss idle", "idle node process (empty database), VmRSS after 3 s", fmt.Sprintf("%.1f MB", mb(rss)), "target < 40 MB"})
		}
		want := o.docs + o.puts
		if local.srcDB == "" {
			add(result{"bootstrap-proc", "empty node process bootstraps from another", na("no source database: " + local.srcErr), "—"})
		} else if rate, took, err := bootstrapProc(ctx, bin, root, local.srcDB, want); err != nil {
			add(result{"bootstrap-proc", "empty node process bootstraps from another", na(firstLine(err.Error())), "—"})
		} else {
			s.bootstrapProc = rate
			add(result{"bootstrap-proc", fmt.Sprintf("empty node process takes %d docs from another process over loopback, secure + Brotli, from ready to all held", want),
				fmt.Sprintf("%.0f docs/s (%.2f s)", rate, took.Seconds()),
				fmt.Sprintf("in-process bootstrap row %.0f docs/s, same run; target ≥ 100,000 docs/s", s.bootstrap)})
		}
		if local.srcDB == "" {
			add(result{"rss bootstrap", "node process after bootstrapping", na("no source database: " + local.srcErr), "—"})
		} else if rss, took, m, err := rssAfterBootstrap(ctx, bin, root, local.srcDB, want); err != nil {
			add(result{"rss bootstrap", "node process after bootstrapping", na(firstLine(err.Error())), "—"})
		} else {
			add(result{"rss bootstrap", fmt.Sprintf("node process after bootstrapping %d docs from another process (%.1f s)", o.docs+o.puts, took.Seconds()),
				fmt.Sprintf("%.1f MB", mb(rss)),
				fmt.Sprintf("of which Go heap in use %.1f MB, document cache %.1f MB (/metrics)",
					m["go_memstats_heap_inuse_bytes"]/(1<<20), m["entgldb_cache_bytes"]/(1<<20))})
		}
	}

	// A long-lived node: the oplog bounded by maintenance.
	if !want("maint") {
		logf("disk/maintenance: skipped")
	} else {
		m := runMaintenance(ctx, root, o.diskUpdates, logf)
		s.diskRatio, s.maintP99Ratio = m.diskRatio, m.p99Ratio
		for _, r := range m.rows() {
			add(r)
		}
	}

	// The dashboard's pages over a large collection (issue 21).
	if !want("ui") {
		logf("ui: skipped")
	} else if res, err := benchUI(ctx, root, o.docs, logf); err != nil {
		add(result{"ui", "dashboard pages over loopback HTTP", na(firstLine(err.Error())), "target ≤ 200 ms"})
	} else {
		for _, r := range res {
			add(r.row(o.docs))
		}
	}

	table := renderTable(rows)
	line := fmt.Sprintf("BENCH put_ratio=%s batch_ratio=%s bootstrap_docs_s=%s verify_ns_entry=%s converge_p99_ms=%s idle_rss_mb=%s handshake_p50_ms=%s in1000_p50_ms=%s disk_ratio=%s maint_p99_ratio=%s http_put_ratio=%s http_c8_gain=%s bootstrap_proc_docs_s=%s db_bytes_ratio=%s",
		ratio(s.put, s.rawPut), ratio(s.batch, s.rawBatch), orNA(s.bootstrap, "%.0f"), orNA(s.verifyNs, "%.0f"),
		orNA(ms(s.convergeP99), "%.1f"), orNA(mb(s.idleRSS), "%.1f"), orNA(ms(s.handshakeP50), "%.2f"), orNA(ms(s.in1000P50), "%.2f"),
		orNA(s.diskRatio, "%.2f"), orNA(s.maintP99Ratio, "%.2f"), orNA(s.httpPutRatio, "%.2f"), orNA(s.httpC8Gain, "%.2f"), orNA(s.bootstrapProc, "%.0f"),
		orNA(s.dbBytesRatio, "%.2f"))
	fmt.Println(table)
	fmt.Println()
	fmt.Printf("total %.0f s; documents ~500 B; %d docs for batch/find/bootstrap; %s, %d CPUs\n",
		time.Since(began).Seconds(), o.docs, runtime.Version(), runtime.NumCPU())
	if err := os.WriteFile(o.out, []byte(table+"\n\n"+line+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench: writing", o.out+":", err)
	}
	fmt.Println(line)
	return 0
}

// localResult carries the single-node rows' figures to the table.
type localResult struct {
	putRate           float64
	putLat            latencies
	batchRate         float64
	miss, hit, find   latencies
	in1000, elemMatch latencies
	bootRate          float64
	bootTook          time.Duration
	noop              latencies
	errs              map[string]string
	srcDB, srcErr     string
	db                dbSize
}

// runLocal runs the single-node and two-node rows on node A (then B).
func runLocal(ctx context.Context, o options, root string, s *summary, logf func(string, ...any)) localResult {
	r := localResult{errs: map[string]string{}}
	fail := func(rows string, err error) {
		for _, row := range strings.Split(rows, ",") {
			if r.errs[row] == "" {
				r.errs[row] = firstLine(err.Error())
			}
		}
		logf("%s: %v", rows, err)
	}
	const later = "put,batch,get,find,in1000,elemmatch,bootstrap,noop"
	cfgA, err := nodeConfig(filepath.Join(root, "node-a"), "bench-a", nil)
	if err != nil {
		fail(later, err)
		r.srcErr = err.Error()
		return r
	}
	logf("put/batch: node A, interleaved with the raw baselines")
	a, err := openNode(ctx, cfgA)
	if err != nil {
		fail(later, err)
		r.srcErr = firstLine(err.Error())
		return r
	}
	// Raw and app runs alternate, three rounds each, and each side keeps its
	// median: the machine is shared, and a burst of load elsewhere should hit
	// both sides of a ratio alike.
	var raws, apps []float64
	for round := 0; round < 3 && r.errs["put"] == ""; round++ {
		raw, err := rawPut(ctx, filepath.Join(root, fmt.Sprintf("raw-put-%d", round)), o.puts)
		if err != nil {
			r.errs["raw-put"] = firstLine(err.Error())
		} else {
			raws = append(raws, raw)
		}
		rate, lat, err := benchPut(ctx, database(a), round, o.puts)
		if err != nil {
			fail("put", err)
			break
		}
		apps = append(apps, rate)
		r.putLat = append(r.putLat, lat...)
	}
	s.rawPut, r.putRate = median(raws), median(apps)
	s.put = r.putRate
	// Batch: raw, app (which also loads the dataset of the later rows), raw.
	raw1, err1 := rawBatch(ctx, filepath.Join(root, "raw-batch-1"), o.docs, batchSize)
	if r.batchRate, err = benchBatch(ctx, database(a), o.docs); err != nil {
		fail("batch,get,find,in1000,elemmatch,bootstrap,noop", err)
		_ = stopNode(a)
		r.srcErr = "batch failed"
		return r
	}
	raw2, err2 := rawBatch(ctx, filepath.Join(root, "raw-batch-2"), o.docs, batchSize)
	if err := errors.Join(err1, err2); err != nil {
		r.errs["raw-batch"] = firstLine(err.Error())
	} else {
		s.rawBatch = (raw1 + raw2) / 2
	}
	s.batch = r.batchRate
	if err := database(a).EnsureIndex(ctx, docsCollection, "cat"); err != nil {
		fail("find,in1000,elemmatch", err)
	}
	if err := stopNode(a); err != nil {
		fail(later, err)
		r.srcErr = "stop failed"
		return r
	}
	if r.db, err = measureDB(ctx, cfgA.Persistence.DatabasePath); err != nil {
		fail("db-bytes", err)
	}
	s.dbBytesRatio = r.db.ratio()

	// Reopen A: a cold cache, so the first read of each key misses.
	logf("get/find: node A reopened")
	a, err = openNode(ctx, cfgA)
	if err != nil {
		fail("get,find,in1000,elemmatch,bootstrap,noop", err)
		r.srcErr = firstLine(err.Error())
		return r
	}
	defer func() {
		if a != nil {
			_ = stopNode(a)
		}
	}()
	if r.miss, r.hit, err = benchGets(ctx, database(a), o.docs, o.gets); err != nil {
		fail("get", err)
	}
	if r.errs["find"] == "" { // the index the find rows need is there
		if r.find, err = benchFind(ctx, database(a), o.docs, o.finds); err != nil {
			fail("find", err)
		}
		if r.in1000, err = benchIn1000(ctx, database(a), o.docs, o.finds); err != nil {
			fail("in1000", err)
		}
		s.in1000P50 = r.in1000.pct(50)
		if r.elemMatch, err = benchElemMatch(ctx, database(a), o.docs, o.elemMatches); err != nil {
			fail("elemmatch", err)
		}
	}

	logf("bootstrap: empty node B pulls from A")
	cfgB, err := nodeConfig(filepath.Join(root, "node-b"), "bench-b", nil)
	if err == nil {
		var b *entgldb.DB
		b, err = openNode(ctx, cfgB)
		if err == nil {
			func() {
				defer stopNode(b)
				drv, err := newRoundDriver(b, cfgB, peerAddr(cfgA))
				if err != nil {
					fail("bootstrap,noop", err)
					return
				}
				defer drv.close()
				want, err := countAll(ctx, database(a), putCollection, docsCollection)
				if err != nil {
					fail("bootstrap,noop", err)
					return
				}
				if r.bootRate, r.bootTook, err = benchBootstrap(ctx, drv, database(b), want); err != nil {
					fail("bootstrap,noop", err)
					return
				}
				s.bootstrap = r.bootRate
				logf("no-op rounds")
				if r.noop, err = benchNoop(ctx, drv, o.noops); err != nil {
					fail("noop", err)
				}
			}()
		}
	}
	if err != nil {
		fail("bootstrap,noop", err)
	}
	if err := stopNode(a); err != nil {
		r.srcErr = firstLine(err.Error())
	} else {
		r.srcDB = cfgA.Persistence.DatabasePath
	}
	a = nil
	return r
}

func (r localResult) rows(o options, s summary) []result {
	var out []result
	rawPutTxt := fmt.Sprintf("raw single-row tx %.0f docs/s (median of 3, interleaved)", s.rawPut)
	if e := r.errs["raw-put"]; e != "" {
		rawPutTxt = "raw single-row tx " + na(e)
	}
	rawBatchTxt := fmt.Sprintf("raw 1,000-row prepared tx %.0f docs/s (mean of runs before and after)", s.rawBatch)
	if e := r.errs["raw-batch"]; e != "" {
		rawBatchTxt = "raw batch " + na(e)
	}
	cell := func(row string, ok func() string) string {
		if e := r.errs[row]; e != "" {
			return na(e)
		}
		return ok()
	}
	out = append(out, result{"put", fmt.Sprintf("single acknowledged Put (app layer, SQLite), 3 × %d docs", o.puts),
		cell("put", func() string {
			return fmt.Sprintf("%.0f docs/s (p50 %s, p99 %s)", r.putRate, fmtDur(r.putLat.pct(50)), fmtDur(r.putLat.pct(99)))
		}), rawPutTxt + "; ratio " + ratio(s.put, s.rawPut) + " (target ≥ 0.6)"})
	out = append(out, result{"batch", fmt.Sprintf("Batch of 1,000 docs, %d docs", o.docs),
		cell("batch", func() string { return fmt.Sprintf("%.0f docs/s", r.batchRate) }),
		rawBatchTxt + "; ratio " + ratio(s.batch, s.rawBatch) + " (target ≥ 0.5)"})
	out = append(out, result{"db-bytes", "database bytes ÷ JSON bytes of the put and batch rows' documents, node stopped (WAL checkpointed)",
		cell("db-bytes", func() string {
			return fmt.Sprintf("%.2f (%.1f MB for %.1f MB of JSON)", r.db.ratio(), mb(r.db.file-r.db.userIndex), mb(r.db.json))
		}), cell("db-bytes", func() string {
			return fmt.Sprintf("the find rows' expression index adds %.1f MB; target ≤ 1.4", mb(r.db.userIndex))
		})})
	out = append(out, result{"get-hit", fmt.Sprintf("Get served by the cache, %d keys", len(r.hit)),
		cell("get", func() string { return fmt.Sprintf("p50 %s · p99 %s", fmtDur(r.hit.pct(50)), fmtDur(r.hit.pct(99))) }), "—"})
	out = append(out, result{"get-miss", fmt.Sprintf("Get missing the cache (SQLite read), %d keys", len(r.miss)),
		cell("get", func() string { return fmt.Sprintf("p50 %s · p99 %s", fmtDur(r.miss.pct(50)), fmtDur(r.miss.pct(99))) }), "—"})
	out = append(out, result{"find", fmt.Sprintf("indexed equality query over %d docs (%d hits each), %d queries", o.docs, o.docs/1000, len(r.find)),
		cell("find", func() string { return fmt.Sprintf("p50 %s · p99 %s", fmtDur(r.find.pct(50)), fmtDur(r.find.pct(99))) }), "—"})
	out = append(out, result{"find-in1000", fmt.Sprintf("$in of 1,000 values (1 present) on the indexed field over %d docs, %d queries", o.docs, len(r.in1000)),
		cell("in1000", func() string {
			return fmt.Sprintf("p50 %s · p99 %s", fmtDur(r.in1000.pct(50)), fmtDur(r.in1000.pct(99)))
		}), "target p50 < 10 ms"})
	out = append(out, result{"find-elemmatch", fmt.Sprintf("$elemMatch over arrays of objects, unindexed, %d docs, %d queries", o.docs, len(r.elemMatch)),
		cell("elemmatch", func() string {
			return fmt.Sprintf("p50 %s · max %s", fmtDur(r.elemMatch.pct(50)), fmtDur(r.elemMatch.pct(100)))
		}), "—"})
	out = append(out, result{"bootstrap", fmt.Sprintf("empty node pulls %d docs over loopback, secure + Brotli", o.docs+o.puts),
		cell("bootstrap", func() string { return fmt.Sprintf("%.0f docs/s (%.2f s)", r.bootRate, r.bootTook.Seconds()) }),
		fmt.Sprintf("batch row %.0f docs/s (ceiling); target ≥ 100,000 docs/s", s.batch)})
	out = append(out, result{"noop-round", fmt.Sprintf("in-sync round between two nodes holding %d docs, %d rounds", o.docs+o.puts, len(r.noop)),
		cell("noop", func() string {
			return fmt.Sprintf("p50 %.2f ms · max %.2f ms", ms(r.noop.pct(50)), ms(r.noop.pct(100)))
		}), "—"})
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func renderTable(rows []result) string {
	var b strings.Builder
	b.WriteString("| row | what | measured | beside |\n|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r.String())
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func ratio(x, base float64) string {
	if x <= 0 || base <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x/base)
}

func orNA(v float64, format string) string {
	if v <= 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, "|", "/") // keep the markdown table intact
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
