package sqlite

import "context"

// Checkpoint folds the write-ahead log into the main database file and
// truncates it, so the file of a stopped node is complete on its own (a
// graceful shutdown calls it before Close).
func (s *Store) Checkpoint(ctx context.Context) error {
	if !s.opts.EnableWAL {
		return nil
	}
	if err := s.flush(ctx); err != nil {
		return err
	}
	_, err := s.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return mapErr("sqlite.Checkpoint", err)
}
