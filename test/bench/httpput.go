package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// httpClients is the concurrency of the many-clients HTTP PUT row.
const httpClients = 8

// httpPutResult is the same-run comparison of single Puts in process and
// over HTTP to a node process, by one client and by httpClients at once.
type httpPutResult struct {
	inProc, one, many float64 // docs/s, median of the rounds
	oneLat            latencies
	// The node process's CPU time per acknowledged Put (user + system,
	// all measured rounds), by one client and by many: what the server
	// spends, whatever else the machine runs.
	oneCPU, manyCPU time.Duration
}

// benchHTTPPut alternates three rounds of n single acknowledged Puts each:
// through the app layer of an in-process node, over loopback HTTP to a
// node process (bin) from one client, and from httpClients clients at once
// (n in all), the side going first rotating so each meets the machine's
// load alike.
func benchHTTPPut(ctx context.Context, root, bin string, n int) (httpPutResult, error) {
	var r httpPutResult
	node, _, err := openLoopbackNode(ctx, filepath.Join(root, "httpput-inproc"), "bench-inproc")
	if err != nil {
		return r, err
	}
	defer stopNode(node)
	p, err := nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, "httpput-proc"), NodeID: "bench-http-proc",
		AuthToken: "bench-cluster", Secure: true, SyncIntervalMs: 2000, LogLevel: "Warning"})
	if err != nil {
		return r, err
	}
	defer p.Kill()
	if err := p.Start(ctx, 30*time.Second); err != nil {
		return r, err
	}
	// Each client its own keep-alive connection, as separate programs
	// would have.
	clients := make([]*client.Client, httpClients)
	for i := range clients {
		clients[i] = client.New(p.HTTPAddr, client.WithKey(p.AdminKey()),
			client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}))
	}
	sides := []struct {
		name  string
		rates *[]float64
		cpu   *time.Duration // of the node process, nil: not measured
		run   func(round int) (float64, latencies, error)
	}{
		{"in process", new([]float64), nil, func(round int) (float64, latencies, error) {
			return benchPut(ctx, database(node), 10+round, n)
		}},
		{"http, 1 client", new([]float64), &r.oneCPU, func(round int) (float64, latencies, error) {
			return httpPuts(ctx, clients[0], "one", round, n)
		}},
		{fmt.Sprintf("http, %d clients", httpClients), new([]float64), &r.manyCPU, func(round int) (float64, latencies, error) {
			return concurrentHTTPPuts(ctx, clients, round, n)
		}},
	}
	// A warm-up round, then three measured.
	for round := -1; round < 3; round++ {
		for i := range sides {
			sd := sides[(i+max(round, 0))%len(sides)]
			cpu0, err := procCPU(p.PID())
			if err != nil {
				return r, err
			}
			rate, lat, err := sd.run(round)
			if err != nil {
				return r, fmt.Errorf("%s: %w", sd.name, err)
			}
			cpu1, err := procCPU(p.PID())
			if err != nil {
				return r, err
			}
			if round < 0 {
				continue
			}
			*sd.rates = append(*sd.rates, rate)
			if sd.cpu != nil {
				*sd.cpu += cpu1 - cpu0
			}
			if sd.name == "http, 1 client" {
				r.oneLat = append(r.oneLat, lat...)
			}
		}
	}
	r.inProc, r.one, r.many = median(*sides[0].rates), median(*sides[1].rates), median(*sides[2].rates)
	puts := time.Duration(3 * (n / httpClients) * httpClients)
	r.oneCPU, r.manyCPU = r.oneCPU/time.Duration(3*n), r.manyCPU/puts
	if _, err := p.Stop(20 * time.Second); err != nil {
		return r, err
	}
	return r, nil
}

// concurrentHTTPPuts has every client put its share of n documents at the
// same time, each Put acknowledged before that client's next.
func concurrentHTTPPuts(ctx context.Context, clients []*client.Client, round, n int) (float64, latencies, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	lats := make([]latencies, len(clients))
	share := n / len(clients)
	start := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, lats[i], errs[i] = httpPuts(ctx, c, fmt.Sprintf("many%d-", i), round, share)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var all latencies
	for i, err := range errs {
		if err != nil {
			return 0, nil, fmt.Errorf("client %d: %w", i, err)
		}
		all = append(all, lats[i]...)
	}
	return rate(share*len(clients), took), all, nil
}

func (r httpPutResult) rows(n int) []result {
	return []result{
		{"put-http-1", fmt.Sprintf("single acknowledged Put over loopback HTTP to a node process, 1 client, 3 × %d docs", n),
			fmt.Sprintf("%.0f docs/s (p50 %s, p99 %s)", r.one, fmtDur(r.oneLat.pct(50)), fmtDur(r.oneLat.pct(99))),
			fmt.Sprintf("same run in process (app layer): %.0f docs/s; HTTP ÷ in process %s (target ≥ 0.6)", r.inProc, ratio(r.one, r.inProc))},
		{"put-http-8", fmt.Sprintf("single acknowledged Puts over loopback HTTP to a node process, %d clients at once, 3 × %d docs", httpClients, n),
			fmt.Sprintf("%.0f docs/s", r.many),
			fmt.Sprintf("%d clients ÷ 1 client %s (target ≥ 4); node process CPU per Put: %s with %d clients, %s with 1",
				httpClients, ratio(r.many, r.one), fmtDur(r.manyCPU), httpClients, fmtDur(r.oneCPU))},
	}
}

// runHTTPPut builds the node binary and runs benchHTTPPut.
func runHTTPPut(ctx context.Context, root string, n int) (httpPutResult, error) {
	bin := filepath.Join(root, "entgldb-httpput")
	if err := nodeproc.Build(ctx, bin); err != nil {
		return httpPutResult{}, fmt.Errorf("build: %w", err)
	}
	return benchHTTPPut(ctx, root, bin, n)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on
// every Linux architecture Go runs on).
const clockTicks = 100

// procCPU is the user + system CPU time process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime: fields 14 and 15
		t, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += t
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
