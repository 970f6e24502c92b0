package sqlite

import (
	"context"
	"database/sql"
	"os"
	"time"

	"go.uber.org/zap"
)

// The writer does not checkpoint (wal_autocheckpoint is 0 on its
// connection): copying the WAL into the database file took ~14 % of a bulk
// apply's CPU, plus an fsync, on the write path. A goroutine with its own
// connection copies it instead, PASSIVE (never blocking the writer or
// readers), while writes go on on the other core. A PASSIVE checkpoint
// cannot reset a WAL that keeps growing under continuous writes, so past
// walHardBytes it takes a TRUNCATE checkpoint, which waits for the writer
// (busy_timeout) and bounds the file.
const (
	walSoftBytes  = 32 << 20
	walHardBytes  = 128 << 20
	walCheckEvery = 100 * time.Millisecond
	// walBusyTimeout bounds how long a checkpoint waits for readers.
	walBusyTimeout = 250 * time.Millisecond
)

type checkpointer struct {
	db         *sql.DB
	walPath    string
	soft, hard int64
	every      time.Duration
	log        *zap.Logger
	stop       chan struct{}
	done       chan struct{}
}

func startCheckpointer(db *sql.DB, dbPath string, soft, hard int64, every time.Duration, log *zap.Logger) *checkpointer {
	c := &checkpointer{db: db, walPath: dbPath + "-wal", soft: soft, hard: hard, every: every, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
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

// check checkpoints when the WAL has grown past the soft limit.
func (c *checkpointer) check() {
	fi, err := os.Stat(c.walPath)
	if err != nil || fi.Size() < c.soft {
		return
	}
	mode := "PASSIVE"
	if fi.Size() >= c.hard {
		mode = "TRUNCATE"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var busy, logFrames, done int
	// A TRUNCATE that finds readers still on the WAL reports busy; the
	// next tick tries again.
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done); err != nil {
		c.log.Warn("WAL checkpoint failed", zap.String("mode", mode), zap.Int64("wal_bytes", fi.Size()), zap.Error(err))
		return
	}
	c.log.Debug("WAL checkpoint", zap.String("mode", mode), zap.Int64("wal_bytes", fi.Size()),
		zap.Int("frames", logFrames), zap.Int("checkpointed", done), zap.Bool("busy", busy != 0))
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
