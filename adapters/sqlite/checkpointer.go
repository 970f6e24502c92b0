package sqlite

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// The writer does not checkpoint (wal_autocheckpoint is 0 on its
// connection): copying the WAL into the database file is a large share of a
// bulk apply's CPU, plus an fsync, on the write path (BENCHMARKS.md, second
// pass). A goroutine with its own connection copies it instead, PASSIVE
// (never blocking the writer or readers), while writes go on on the other
// core.
//
// The WAL restarts from its start (overwriting the file, which the writer
// cuts back to the soft limit: journal_size_limit) only when a writer
// begins after every frame was copied. Under continuous writes a PASSIVE
// pass never ends level with the writer, so once the WAL's frames pass the
// hard limit the checkpointer "seals" it: it holds off writers (the
// store's writer mutex) while a last PASSIVE pass copies the frames written
// since its previous one. That stalls writers for the pass and its two
// fsyncs, less than the TRUNCATE checkpoint it replaces, which also left an
// empty file to extend again (BENCHMARKS.md, third pass). A file past twice
// the hard limit means readers kept the sealed WAL from restarting: a
// TRUNCATE checkpoint waits for them (busy_timeout) and empties it.
const (
	walSoftBytes  = 32 << 20
	walHardBytes  = 128 << 20
	walCheckEvery = 100 * time.Millisecond
	// walBusyTimeout bounds how long a checkpoint waits for readers.
	walBusyTimeout = 250 * time.Millisecond
	// sealDelta: new frames below this end the passes before a seal.
	sealDelta = 1 << 20
)

// walLimits are the checkpointer's thresholds.
type walLimits struct {
	soft, hard int64
	every      time.Duration
}

func (o Options) walLimits() walLimits {
	l := walLimits{walSoftBytes, walHardBytes, walCheckEvery}
	if o.walSoft > 0 {
		l.soft, l.hard = o.walSoft, o.walHard
	}
	if o.walEvery > 0 {
		l.every = o.walEvery
	}
	return l
}

type checkpointer struct {
	db      *sql.DB
	walPath string
	walLimits
	writers sync.Locker // held while sealing
	log     *zap.Logger
	stop    chan struct{}
	done    chan struct{}
	// frameBytes is one WAL frame: a page and its 24-byte header.
	frameBytes int64
	// sealed is the WAL's frame count after the last seal, 0 once it
	// restarted.
	sealed int
	// seals counts them (tests).
	seals atomic.Int64
}

func startCheckpointer(db *sql.DB, dbPath string, limits walLimits, writers sync.Locker, log *zap.Logger) *checkpointer {
	c := &checkpointer{db: db, walPath: dbPath + "-wal", walLimits: limits, writers: writers, log: log,
		stop: make(chan struct{}), done: make(chan struct{}), frameBytes: 4096 + 24}
	var page int64
	if err := db.QueryRow("PRAGMA page_size").Scan(&page); err == nil && page > 0 {
		c.frameBytes = page + 24
	}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.check()
		}
	}
}

// check checkpoints once the WAL file has grown past the soft limit, and
// seals a WAL whose frames alone passed the hard limit. A file twice the
// hard limit means readers kept the sealed WAL from restarting: TRUNCATE
// waits for them.
func (c *checkpointer) check() {
	fi, err := os.Stat(c.walPath)
	if err != nil || fi.Size() < c.soft {
		return
	}
	if fi.Size() >= 2*c.hard {
		c.checkpoint("TRUNCATE", fi.Size())
		return
	}
	// Even a pass that copied every frame does not restart the WAL when
	// a write transaction was under way: its frames follow. So the seal
	// depends on the size alone.
	frames, _, ok := c.checkpoint("PASSIVE", fi.Size())
	if !ok {
		return
	}
	if frames < c.sealed {
		c.sealed = 0 // restarted since the last seal
	}
	need := int(c.hard / c.frameBytes)
	if c.sealed > 0 {
		// Sealed, and not restarted: no writer came since (the next
		// one restarts it), or a reader held the WAL when one did. Seal
		// again only after a quarter of the hard limit more, so busy
		// readers cannot make every tick stall the writers.
		need = c.sealed + need/4
	}
	if frames < need {
		return
	}
	// The seal's pass copies and fsyncs what the writer added during the
	// previous pass, with the writers held off. Up to four more passes
	// first, back to back, stopping when one finds little new, shrink what
	// that last pass copies, and so the writers' stall. (A higher bar for
	// stopping gained nothing: the fsyncs, not the frames, make a seal
	// slow. BENCHMARKS.md, third pass, has both measurements.)
	for range 4 {
		more, _, ok := c.checkpoint("PASSIVE", fi.Size())
		if !ok || int64(more-frames)*c.frameBytes < sealDelta {
			break
		}
		frames = more
	}
	c.writers.Lock()
	defer c.writers.Unlock()
	c.sealed, _, _ = c.checkpoint("PASSIVE", fi.Size())
	c.seals.Add(1)
}

// checkpoint runs one checkpoint and returns the frames in the WAL and how
// many of them are now in the database file.
func (c *checkpointer) checkpoint(mode string, walBytes int64) (frames, copied int, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var busy int
	// A TRUNCATE that finds readers still on the WAL reports busy; the
	// next tick tries again.
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied); err != nil {
		c.log.Warn("WAL checkpoint failed", zap.String("mode", mode), zap.Int64("wal_bytes", walBytes), zap.Error(err))
		return 0, 0, false
	}
	c.log.Debug("WAL checkpoint", zap.String("mode", mode), zap.Int64("wal_bytes", walBytes),
		zap.Int("frames", frames), zap.Int("checkpointed", copied), zap.Bool("busy", busy != 0))
	return frames, copied, true
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}

// Checkpoint folds the write-ahead log into the main database file and
// truncates it, so the file of a stopped node is complete on its own (a
// graceful shutdown calls it before Close).
func (s *Store) Checkpoint(ctx context.Context) error {
	if !s.opts.EnableWAL {
		return nil
	}
	// read: the file then holds every document.
	return s.read(ctx, func() error {
		_, err := s.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		return mapErr("sqlite.Checkpoint", err)
	})
}
