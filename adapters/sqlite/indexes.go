package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/entgldb/entgldb-go/domain"
)

func (s *Store) isIndexed(path string) bool {
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	return s.indexed[path]
}

// EnsureIndex creates (if missing) an expression index on the JSON path.
// The index covers every collection: it leads with the collection column,
// which every query constrains. An index expression cannot hold a parameter,
// so the path must pass a strict allowlist ([A-Za-z0-9_-] segments).
func (s *Store) EnsureIndex(ctx context.Context, collection, path string) error {
	const op = "sqlite.EnsureIndex"
	if collection == "" {
		return domain.Errorf(domain.CodeInvalidArgument, op, "collection is empty")
	}
	if err := domain.ValidateIndexPath(path); err != nil {
		return domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	if s.isIndexed(path) {
		return nil
	}
	jp := jsonPath(path)
	sum := sha256.Sum256([]byte(path))
	name := "docidx_" + hex.EncodeToString(sum[:8])
	err := s.writeKeepPending(ctx, op, func(t *writeTx) error {
		if _, err := t.tx.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS `+name+
			` ON documents (collection, json_extract(data, '`+jp+`'))`); err != nil {
			return err
		}
		_, err := t.tx.ExecContext(ctx, `INSERT OR IGNORE INTO doc_indexes (path, name) VALUES (?, ?)`, path, name)
		return err
	})
	if err != nil {
		return err
	}
	s.idxMu.Lock()
	s.indexed[path] = true
	s.idxMu.Unlock()
	return nil
}

func (s *Store) loadIndexes(ctx context.Context) error {
	var paths []string
	if err := s.reader.NewSelect().Table("doc_indexes").Column("path").Scan(ctx, &paths); err != nil {
		return mapErr("sqlite.loadIndexes", err)
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	for _, p := range paths {
		s.indexed[p] = true
	}
	return nil
}
