package sqlite

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// CountAuthorEntries implements ports.OplogCounter: the range of seq (the
// rowid) bounds the scan to what is new since the last count.
func (s *Store) CountAuthorEntries(ctx context.Context, author string, since domain.Timestamp, seqAfter, seqUpTo int64) (int, error) {
	var n int
	err := s.reader.DB.QueryRowContext(ctx, `SELECT count(*) FROM oplog
		WHERE seq > ? AND seq <= ? AND node = ? AND (wall, logic, node) > (?, ?, ?)`,
		seqAfter, seqUpTo, author, since.Wall, since.Logical, since.Node).Scan(&n)
	return n, mapErr("sqlite.CountAuthorEntries", err)
}
