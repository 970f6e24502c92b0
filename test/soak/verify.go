package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/entgldb/entgldb-go/client"
)

// docView is one document as a node lists it.
type docView struct {
	Version string
	Data    json.RawMessage
}

// snapshot is every live document of a node, by collection and key.
type snapshot struct {
	docs map[string]map[string]docView
	hash string
	n    int
}

// fetch lists every document of every collection over the HTTP API.
func fetch(ctx context.Context, n *node) (snapshot, error) {
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	node := n.proc.Client()
	cols, err := node.Collections(rctx)
	if err != nil {
		return snapshot{}, fmt.Errorf("%s: collections: %w", n.name(), err)
	}
	s := snapshot{docs: map[string]map[string]docView{}}
	sort.Strings(cols)
	h := sha256.New()
	for _, c := range cols {
		docs, err := node.Find(rctx, c, client.Query{})
		if err != nil {
			return snapshot{}, fmt.Errorf("%s: list %s: %w", n.name(), c, err)
		}
		m := map[string]docView{}
		for _, d := range docs {
			m[d.Key] = docView{Version: d.Version, Data: d.Data}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// Version and key decide; the data is hashed too so that two
			// nodes holding different bodies under one version differ.
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", c, k, m[k].Version, m[k].Data)
		}
		s.docs[c] = m
		s.n += len(m)
	}
	s.hash = hex.EncodeToString(h.Sum(nil))[:16]
	return s, nil
}

// waitConverged polls every node until all hashes agree or within (counted
// from start) passes; it returns the time since start.
func waitConverged(ctx context.Context, nodes []*node, start time.Time, within time.Duration) ([]snapshot, time.Duration, error) {
	deadline := start.Add(within)
	var last []snapshot
	var lastErr error
	for round := 0; round < 10_000; round++ {
		snaps := make([]snapshot, len(nodes))
		ok := true
		for i, n := range nodes {
			s, err := fetch(ctx, n)
			if err != nil {
				lastErr, ok = err, false
				break
			}
			snaps[i] = s
			if s.hash != snaps[0].hash {
				ok = false
			}
		}
		if ok {
			return snaps, time.Since(start), nil
		}
		if snaps[0].docs != nil {
			last = snaps
		}
		if time.Now().After(deadline) {
			if lastErr == nil {
				lastErr = fmt.Errorf("hashes still differ after %s", within)
			}
			return last, time.Since(start), lastErr
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return last, time.Since(start), err
		}
	}
	return last, time.Since(start), fmt.Errorf("not converged")
}

// verify checks every key of every worker against every node's snapshot;
// it returns the number of keys whose state is wrong on some node and up
// to 10 examples.
func verify(workers []*worker, nodes []*node, snaps []snapshot) (lost, uncertain int, examples []string) {
	for _, w := range workers {
		for _, c := range collections {
			for _, k := range w.keys[c] {
				if !k.certain() {
					uncertain++
				}
				bad := false
				for i, s := range snaps {
					d, present := s.docs[c][k.key]
					if !k.matches(present, d.Data, d.Version) {
						bad = true
						if len(examples) < 10 {
							got := "absent"
							if present {
								got = fmt.Sprintf("%s@%s", d.Data, d.Version)
							}
							examples = append(examples, fmt.Sprintf("%s/%s on %s: got %s, want one of %v", c, k.key, nodes[i].name(), got, k.candidates))
						}
					}
				}
				if bad {
					lost++
				}
			}
		}
	}
	return lost, uncertain, examples
}
