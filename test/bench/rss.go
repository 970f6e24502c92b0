package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// rssIdle starts a real node process on an empty database and reads its
// resident memory after it has settled.
func rssIdle(ctx context.Context, bin, root string) (int64, error) {
	p, err := nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, "rss-idle"), NodeID: "rss-idle",
		AuthToken: "bench-cluster", Secure: true, SyncIntervalMs: 2000, LogLevel: "Warning"})
	if err != nil {
		return 0, err
	}
	defer p.Kill()
	if err := p.Start(ctx, 30*time.Second); err != nil {
		return 0, err
	}
	time.Sleep(3 * time.Second) // a measurement window, not a synchronisation: let start-up garbage be collected
	rss, err := p.RSSBytes()
	if err != nil {
		return 0, err
	}
	if _, err := p.Stop(20 * time.Second); err != nil {
		return 0, err
	}
	return rss, nil
}

// procPair starts a node process serving a copy of srcDB and an empty
// second one (secure + Brotli, syncing every intervalMs) that has the first
// as its peer; both are killed when the caller is done with them. started
// is when the second process was started.
func procPair(ctx context.Context, bin, root, name, srcDB string, intervalMs int) (src, dst *nodeproc.Proc, started time.Time, err error) {
	src, err = nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, name+"-src"), NodeID: "",
		AuthToken: "bench-cluster", Secure: true, SyncIntervalMs: 2000, LogLevel: "Warning"})
	if err != nil {
		return nil, nil, started, err
	}
	fail := func(err error) (*nodeproc.Proc, *nodeproc.Proc, time.Time, error) {
		src.Kill()
		if dst != nil {
			dst.Kill()
		}
		return nil, nil, started, err
	}
	if err := os.MkdirAll(filepath.Dir(src.DBPath), 0o755); err != nil {
		return fail(err)
	}
	if err := copyFile(srcDB, src.DBPath); err != nil {
		return fail(err)
	}
	if err := src.Start(ctx, 60*time.Second); err != nil {
		return fail(err)
	}
	dst, err = nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, name+"-dst"), NodeID: name + "-dst",
		AuthToken: "bench-cluster", Secure: true, SyncIntervalMs: intervalMs, LogLevel: "Warning"})
	if err != nil {
		return fail(err)
	}
	dst.SetPeers([]string{src.PeerAddr()})
	started = time.Now()
	if err := dst.Start(ctx, 30*time.Second); err != nil {
		return fail(err)
	}
	return src, dst, started, nil
}

// waitDocs polls p until it holds want documents of the bench collections,
// every poll apart; it returns when they were seen.
func waitDocs(ctx context.Context, p *nodeproc.Proc, want int, poll time.Duration) (time.Time, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := httpCount(ctx, p, putCollection)
		if err == nil {
			var g2 int
			g2, err = httpCount(ctx, p, docsCollection)
			got += g2
		}
		if err == nil && got >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("process bootstrap: %d of %d documents after 3 min (last error %v)", got, want, err)
		}
		time.Sleep(poll)
	}
}

// rssAfterBootstrap serves a copy of srcDB from one process and bootstraps
// an empty second process from it over loopback (secure + Brotli), then
// reads the second process's resident memory.
func rssAfterBootstrap(ctx context.Context, bin, root, srcDB string, want int) (int64, time.Duration, map[string]float64, error) {
	src, dst, start, err := procPair(ctx, bin, root, "rss", srcDB, 500)
	if err != nil {
		return 0, 0, nil, err
	}
	defer src.Kill()
	defer dst.Kill()
	done, err := waitDocs(ctx, dst, want, 200*time.Millisecond)
	if err != nil {
		return 0, 0, nil, err
	}
	took := done.Sub(start)
	rss, err := dst.RSSBytes()
	if err != nil {
		return 0, 0, nil, err
	}
	// Where the memory is: the Go heap and the document cache, from /metrics.
	metrics, err := dst.Client().Metrics(ctx)
	if err != nil {
		return 0, 0, nil, err
	}
	if _, err := dst.Stop(20 * time.Second); err != nil {
		return 0, 0, nil, err
	}
	if _, err := src.Stop(20 * time.Second); err != nil {
		return 0, 0, nil, err
	}
	return rss, took, metrics, nil
}

// bootstrapProc times an empty node process taking want documents from
// another process over loopback (secure + Brotli): from the moment it is
// ready (serving HTTP) until it holds them all. Its first round waits for
// its sync interval, kept short here so the figure is the bootstrap's.
func bootstrapProc(ctx context.Context, bin, root, srcDB string, want int) (float64, time.Duration, error) {
	src, dst, _, err := procPair(ctx, bin, root, "proc", srcDB, 50)
	if err != nil {
		return 0, 0, err
	}
	defer src.Kill()
	defer dst.Kill()
	ready := time.Now()
	done, err := waitDocs(ctx, dst, want, 10*time.Millisecond)
	if err != nil {
		return 0, 0, err
	}
	took := done.Sub(ready)
	return rate(want, took), took, nil
}

func httpCount(ctx context.Context, p *nodeproc.Proc, collection string) (int, error) {
	n, err := p.Client().Count(ctx, collection, "")
	if errors.Is(err, domain.ErrNotFound) { // the collection is not there yet
		return 0, nil
	}
	return n, err
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
