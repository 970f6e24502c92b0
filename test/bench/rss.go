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

// rssAfterBootstrap serves a copy of srcDB from one process and bootstraps
// an empty second process from it over loopback (secure + Brotli), then
// reads the second process's resident memory.
func rssAfterBootstrap(ctx context.Context, bin, root, srcDB string, want int) (int64, time.Duration, map[string]float64, error) {
	src, err := nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, "rss-src"), NodeID: "",
		AuthToken: "bench-cluster", Secure: true, SyncIntervalMs: 2000, LogLevel: "Warning"})
	if err != nil {
		return 0, 0, nil, err
	}
	defer src.Kill()
	if err := os.MkdirAll(filepath.Dir(src.DBPath), 0o755); err != nil {
		return 0, 0, nil, err
	}
	if err := copyFile(srcDB, src.DBPath); err != nil {
		return 0, 0, nil, err
	}
	if err := src.Start(ctx, 60*time.Second); err != nil {
		return 0, 0, nil, err
	}
	dst, err := nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, "rss-dst"), NodeID: "rss-dst",
		AuthToken: "bench-cluster", Secure: true, SyncIntervalMs: 500, LogLevel: "Warning"})
	if err != nil {
		return 0, 0, nil, err
	}
	defer dst.Kill()
	dst.SetPeers([]string{src.PeerAddr()})
	start := time.Now()
	if err := dst.Start(ctx, 30*time.Second); err != nil {
		return 0, 0, nil, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := httpCount(ctx, dst, putCollection)
		if err == nil {
			var g2 int
			g2, err = httpCount(ctx, dst, docsCollection)
			got += g2
		}
		if err == nil && got >= want {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, nil, fmt.Errorf("process bootstrap: %d of %d documents after 3 min (last error %v)", got, want, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
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
