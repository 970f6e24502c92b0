package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
)

// Get returns the live document; NOT_FOUND when missing, deleted or expired.
func (s *Store) Get(ctx context.Context, collection, key string) (domain.Document, error) {
	const op = "sqlite.Get"
	p, pending := s.st.pendingDocument(collection, key)
	d := domain.Document{Collection: collection, Key: key}
	var data sql.NullString
	err := s.stmts.getDoc.QueryRowContext(ctx, collection, key).Scan(&data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.Deleted, &d.ExpiresAt)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return domain.Document{}, mapErr(op, err)
	}
	if data.Valid {
		d.Data = []byte(data.String)
	}
	// A pending write not yet in the table wins when newer (it was
	// read first: once materialized, the table holds it or something newer).
	if pending && (!found || p.Stamp.After(d.Stamp)) {
		d, found = p, true
		d.Data = bytes.Clone(p.Data) // the pending copy must stay intact
	}
	if !found || d.Deleted || domain.Expired(d.ExpiresAt, s.nowMs()) {
		return domain.Document{}, domain.Errorf(domain.CodeNotFound, op, "%s/%s not found", collection, key)
	}
	return d, nil
}

// Collections lists collections holding at least one live (not deleted,
// not expired) document, sorted.
func (s *Store) Collections(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.read(ctx, func() error {
		err := s.reader.NewSelect().Table("documents").ColumnExpr("DISTINCT collection").
			Where("deleted = 0 AND (expires_at = 0 OR expires_at > ?)", s.nowMs()).Order("collection").Scan(ctx, &out)
		return mapErr("sqlite.Collections", err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
