package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The disk and maintenance rows (issue 17): a sensor-like load rewrites
// diskKeys documents over and over on a lone node with the default
// settings; the disk row compares the database plus WAL after one
// maintenance pass with the live JSON, the maintenance row Put p99 during
// that pass with Put p99 before and after it.
const (
	diskKeys     = 1000
	diskMaintPut = 20_000 // Puts timed without a pass (half before, half after): long enough to meet WAL checkpoints, as the Puts during one do
)

type maintResult struct {
	updates              int
	liveBytes            int64
	before, after        int64 // database + WAL bytes around the pass
	removed              ports.CompactionResult
	took                 time.Duration
	putBase, putDuring   latencies
	diskRatio, p99Ratio  float64
	diskErr, maintErr    string
	oplogBefore, oplogAt int64
}

func dbBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func runMaintenance(ctx context.Context, dir string, updates int, logf func(string, ...any)) maintResult {
	r := maintResult{updates: updates}
	fail := func(err error) maintResult {
		r.diskErr, r.maintErr = firstLine(err.Error()), firstLine(err.Error())
		return r
	}
	path := filepath.Join(dir, "disk", "entgldb.db")
	store, err := sqlite.Open(ctx, sqlite.Options{Path: path, EnableWAL: config.Default().Persistence.EnableWalMode})
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	clock := domain.NewClock("bench-disk", func() int64 { return time.Now().UnixMilli() }, 60_000)
	db, err := app.NewDatabase(store, cache.New(int64(config.Default().Persistence.CacheSizeMb)<<20), clock, zap.NewNop(), app.DatabaseOptions{})
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	// A lone node keeps history for no one; the short retention matters
	// only for the tombstones and for peers, of which there are none.
	maint := app.NewMaintenance(store, app.NewPeerClocks(store), app.MaintenanceOptions{
		OplogRetention: time.Second, TombstoneRetention: time.Second}, zap.NewNop())

	logf("disk: %d updates over %d keys", updates, diskKeys)
	rnd := rand.New(rand.NewPCG(17, 1))
	c := db.Collection("sensors")
	live := make(map[string]int, diskKeys)
	for done := 0; done < updates; {
		b := app.Batch{Puts: make(map[string][]byte, diskKeys)}
		for k := 0; k < diskKeys && done < updates; k++ {
			body := docBody(done, rnd)
			key := docKey(k)
			b.Puts[key] = body
			live[key] = len(body)
			done++
		}
		if _, err := c.Batch(ctx, b); err != nil {
			return fail(fmt.Errorf("batch: %w", err))
		}
	}
	for _, n := range live {
		r.liveBytes += int64(n)
	}
	time.Sleep(1100 * time.Millisecond) // past the short retention

	// Puts without a pass, half before it and half after, so a machine
	// whose load drifts weighs on both sides alike.
	timePuts := func(n int) error {
		for i := 0; i < n; i++ {
			t0 := time.Now()
			if _, err := c.Put(ctx, docKey(i%diskKeys), docBody(i, rnd)); err != nil {
				return err
			}
			r.putBase = append(r.putBase, time.Since(t0))
		}
		return nil
	}
	logf("maintenance: %d Puts without a pass", diskMaintPut/2)
	if err := timePuts(diskMaintPut / 2); err != nil {
		return fail(err)
	}
	if st, err := store.StorageStats(ctx); err == nil {
		r.oplogBefore = st.OplogEntries
	}
	r.before = dbBytes(path)

	logf("maintenance: one pass, Puts meanwhile")
	type passDone struct {
		res ports.CompactionResult
		err error
	}
	done := make(chan passDone, 1)
	start := time.Now()
	go func() {
		res, err := maint.RunOnce(ctx)
		done <- passDone{res, err}
	}()
	var pass passDone
	for i := 0; ; i++ {
		select {
		case pass = <-done:
		default:
			t0 := time.Now()
			if _, err := c.Put(ctx, docKey(i%diskKeys), docBody(i, rnd)); err != nil {
				return fail(err)
			}
			r.putDuring = append(r.putDuring, time.Since(t0))
			continue
		}
		break
	}
	r.took = time.Since(start)
	if pass.err != nil {
		return fail(pass.err)
	}
	r.removed = pass.res
	// What the Puts during the pass added is history too: a second pass,
	// not timed, removes it, as the next scheduled one would.
	if _, err := maint.RunOnce(ctx); err != nil {
		return fail(err)
	}
	if err := store.Checkpoint(ctx); err != nil {
		return fail(err)
	}
	r.after = dbBytes(path)
	if st, err := store.StorageStats(ctx); err == nil {
		r.oplogAt = st.OplogEntries
	}
	logf("maintenance: %d Puts without a pass, after it", diskMaintPut/2)
	if err := timePuts(diskMaintPut / 2); err != nil {
		return fail(err)
	}
	r.diskRatio = float64(r.after) / float64(r.liveBytes)
	if len(r.putDuring) < 20 {
		r.maintErr = fmt.Sprintf("the pass took %s: only %d Puts ran during it", r.took, len(r.putDuring))
	} else if base := r.putBase.pct(99); base > 0 {
		r.p99Ratio = float64(r.putDuring.pct(99)) / float64(base)
	}
	return r
}

func (r maintResult) rows() []result {
	disk := result{"disk", fmt.Sprintf("%d updates over %d keys of ~500 B, lone node, default settings; database + WAL after one maintenance pass", r.updates, diskKeys), "", "target ≤ 3 × live JSON"}
	maint := result{"maintenance", "single acknowledged Put while a maintenance pass runs", "", "target p99 ≤ 2 × without a pass"}
	if r.diskErr != "" {
		disk.value = na(r.diskErr)
	} else {
		disk.value = fmt.Sprintf("%.2f × live JSON (%.1f MB → %.2f MB, live %.2f MB; oplog %d → %d entries)",
			r.diskRatio, mb(r.before), mb(r.after), mb(r.liveBytes), r.oplogBefore, r.oplogAt)
	}
	switch {
	case r.maintErr != "":
		maint.value = na(r.maintErr)
	default:
		maint.value = fmt.Sprintf("p99 %s during (%d Puts, pass %.1f s, %d entries removed) · p99 %s without · ratio %.2f",
			fmtDur(r.putDuring.pct(99)), len(r.putDuring), r.took.Seconds(), r.removed.EntriesRemoved, fmtDur(r.putBase.pct(99)), r.p99Ratio)
	}
	return []result{disk, maint}
}
