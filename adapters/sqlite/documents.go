package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
)

// Get returns the live document; NOT_FOUND when missing or deleted.
func (s *Store) Get(ctx context.Context, collection, key string) (domain.Document, error) {
	const op = "sqlite.Get"
	p, pending := s.st.pendingDocument(collection, key)
	d := domain.Document{Collection: collection, Key: key}
	var data sql.NullString
	err := s.stmts.getDoc.QueryRowContext(ctx, collection, key).Scan(&data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.Deleted)
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
	if !found || d.Deleted {
		return domain.Document{}, domain.Errorf(domain.CodeNotFound, op, "%s/%s not found", collection, key)
	}
	return d, nil
}

func (s *Store) where(collection string, f domain.Filter) (*queryBuilder, error) {
	q := &queryBuilder{indexed: s.isIndexed}
	q.w(" FROM documents WHERE documents.collection = ", q.arg(collection), " AND documents.deleted = 0 AND ")
	if err := q.filter(f); err != nil {
		return nil, err
	}
	return q, nil
}

// Find returns live documents matching q, ordered and paged in SQL.
func (s *Store) Find(ctx context.Context, collection string, query domain.Query) ([]domain.Document, error) {
	var out []domain.Document
	err := s.read(ctx, func() (err error) {
		out, err = s.find(ctx, collection, query)
		return err
	})
	return out, err
}

func (s *Store) find(ctx context.Context, collection string, query domain.Query) ([]domain.Document, error) {
	const op = "sqlite.Find"
	if err := domain.ValidateQuery(query); err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	q, err := s.where(collection, query.Filter)
	if err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	if err := q.orderBy(query.OrderBy); err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	take, skip := int64(query.Take), int64(query.Skip)
	if take <= 0 {
		take = -1 // SQLite: no limit, so OFFSET works alone
	}
	q.w(" LIMIT ", q.arg(take), " OFFSET ", q.arg(max(skip, 0)))
	rows, err := s.queries.query(ctx, "SELECT documents.key, documents.data, documents.wall, documents.logic, documents.node"+q.sb.String(), q.args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []domain.Document
	for rows.Next() {
		d := domain.Document{Collection: collection}
		var data sql.NullString
		if err := rows.Scan(&d.Key, &data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node); err != nil {
			return nil, mapErr(op, err)
		}
		if data.Valid {
			d.Data = []byte(data.String)
		}
		out = append(out, d)
	}
	return out, mapErr(op, rows.Err())
}

// Count returns the number of live documents matching f.
func (s *Store) Count(ctx context.Context, collection string, f domain.Filter) (int, error) {
	var n int
	err := s.read(ctx, func() (err error) {
		n, err = s.count(ctx, collection, f)
		return err
	})
	return n, err
}

func (s *Store) count(ctx context.Context, collection string, f domain.Filter) (int, error) {
	const op = "sqlite.Count"
	if err := domain.ValidateQuery(domain.Query{Filter: f}); err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	q, err := s.where(collection, f)
	if err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	rows, err := s.queries.query(ctx, "SELECT count(*)"+q.sb.String(), q.args...)
	if err != nil {
		return 0, mapErr(op, err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	return n, mapErr(op, err)
}

// Collections lists collections holding at least one live document, sorted.
func (s *Store) Collections(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.read(ctx, func() error {
		err := s.reader.NewSelect().Table("documents").ColumnExpr("DISTINCT collection").
			Where("deleted = 0").Order("collection").Scan(ctx, &out)
		return mapErr("sqlite.Collections", err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
