package sqlite

import (
	"context"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/zap"
)

// Space goes back to the disk (app.SpaceReclaimer): the database runs in
// incremental auto-vacuum mode, so the pages compaction frees can be cut
// off the file in small steps, each a short write under the writer lock,
// instead of one VACUUM that rewrites the file and stalls every writer.
const (
	autoVacuumIncremental = 2 // PRAGMA auto_vacuum's value for INCREMENTAL
	// reclaimMinFree: free space below this stays in the file for the
	// next writes to reuse.
	reclaimMinFree = 1 << 20
	// vacuumStep is the pages one step gives back, a short write.
	vacuumStep = 64
)

// ensureIncrementalVacuum puts the file in incremental auto-vacuum mode.
// The mode takes effect only when set before the file's first page is
// written, or through VACUUM: a new file (WAL mode has already written
// its header) costs a VACUUM of nothing, an existing one is rewritten once
// (a one-time cost, logged).
func ensureIncrementalVacuum(ctx context.Context, db *bun.DB, log *zap.Logger) error {
	var mode, tables int
	if err := db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return err
	}
	if mode == autoVacuumIncremental {
		return nil
	}
	if _, err := db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return err
	}
	start := time.Now()
	if tables > 0 {
		log.Info("converting the database to incremental auto-vacuum; this happens once")
	}
	if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
		return err
	}
	if tables > 0 {
		log.Info("database converted to incremental auto-vacuum", zap.Duration("took", time.Since(start)))
	}
	return nil
}

// ReclaimSpace gives the file's free pages back to the disk once they
// pass reclaimMinFree, vacuumStep pages per step with the writers let in
// between (yieldToWriters), then empties the WAL so the file and the WAL both shrink. It
// returns the bytes given back.
func (s *Store) ReclaimSpace(ctx context.Context) (int64, error) {
	const op = "sqlite.ReclaimSpace"
	var pageSize, free int64
	if err := s.writer.DB.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return 0, mapErr(op, err)
	}
	if err := s.writer.DB.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
		return 0, mapErr(op, err)
	}
	if free*pageSize < reclaimMinFree {
		return 0, nil
	}
	var freed int64
	for freed < free {
		if err := ctx.Err(); err != nil {
			return freed * pageSize, mapErr(op, err)
		}
		step := min(vacuumStep, free-freed)
		began := time.Now()
		s.st.wmu.Lock()
		_, err := s.writer.DB.ExecContext(ctx, "PRAGMA incremental_vacuum("+strconv.FormatInt(step, 10)+")")
		s.st.wmu.Unlock()
		if err != nil {
			return freed * pageSize, mapErr(op, err)
		}
		freed += step
		yieldToWriters(ctx, time.Since(began))
	}
	if s.ckpt != nil {
		// PASSIVE copies the moved pages without holding writers off;
		// the TRUNCATE that empties the WAL then has little left to copy.
		s.ckpt.checkpoint("PASSIVE", fileSize(s.opts.Path+"-wal"))
		s.ckpt.checkpoint("TRUNCATE", fileSize(s.opts.Path+"-wal"))
	}
	s.log.Debug("free pages given back to the disk", zap.Int64("pages", freed), zap.Int64("bytes", freed*pageSize))
	return freed * pageSize, nil
}
