package sqlite

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// DocumentHistory returns the newest entries the oplog still holds of one
// document, newest first, at most limit: what the dashboard shows of a
// document's history (compaction keeps only what peers may still need).
// It reads by seq from the newest, so a recently changed document is found
// at once; the (collection, key) index, when a replay has made it, serves
// the rest.
func (s *Store) DocumentHistory(ctx context.Context, collection, key string, limit int) ([]domain.Entry, error) {
	const op = "sqlite.DocumentHistory"
	rows, err := s.reader.DB.QueryContext(ctx, `SELECT `+entryCols+` FROM oplog
		WHERE collection = ? AND key = ? ORDER BY seq DESC LIMIT ?`, collection, key, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := scanEntries(rows)
	return out, mapErr(op, err)
}
