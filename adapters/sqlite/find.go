package sqlite

import (
	"context"
	"database/sql"
	"errors"

	msqlite "modernc.org/sqlite"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Find returns live documents matching q, ordered and paged in SQL.
func (s *Store) Find(ctx context.Context, collection string, query domain.Query) ([]domain.Document, error) {
	var out []domain.Document
	err := s.read(ctx, func() (err error) {
		out, err = s.find(ctx, collection, query)
		return err
	})
	return out, err
}

// prepareQuery validates and compiles f and lends it to SQL; release ends
// the loan.
func (s *Store) prepareQuery(collection string, f domain.Filter) (q *queryBuilder, lf *liveFilter, release func(), err error) {
	m, err := domain.CompileFilter(f)
	if err != nil {
		return nil, nil, nil, err
	}
	q = &queryBuilder{indexed: s.isIndexed}
	var id int64
	release = func() {}
	if f != nil {
		id, lf, release = lendFilter(m)
	}
	q.where(collection, f, id, s.nowMs())
	return q, lf, release, nil
}

func (s *Store) find(ctx context.Context, collection string, query domain.Query) ([]domain.Document, error) {
	const op = "sqlite.Find"
	if err := domain.ValidateQuery(domain.Query{OrderBy: query.OrderBy, Sort: query.Sort, Skip: query.Skip}); err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	q, lf, release, err := s.prepareQuery(collection, query.Filter)
	if err != nil {
		return nil, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	defer release()
	take, skip := int64(query.Take), max(int64(query.Skip), 0)
	if take <= 0 {
		take = -1 // SQLite: no limit, so OFFSET works alone
	}
	orders := query.Orders()
	cuts, done, err := s.splitScan(ctx, collection, q, query.Filter != nil || len(orders) > 0)
	if err != nil {
		return nil, queryErr(op, err, lf)
	}
	if cuts != nil {
		defer done()
		out, err := s.findSplit(ctx, collection, q, orders, cuts, skip, take)
		if err != nil {
			return nil, queryErr(op, err, lf)
		}
		return out, nil
	}
	q.orderBy(orders)
	q.w(" LIMIT ", q.arg(take), " OFFSET ", q.arg(skip))
	rows, err := s.queries.query(ctx, findColumns+q.sb.String(), q.args...)
	if err != nil {
		return nil, queryErr(op, err, lf)
	}
	defer rows.Close()
	var out []domain.Document
	for rows.Next() {
		d, err := scanDocument(rows, collection)
		if err != nil {
			return nil, queryErr(op, err, lf)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, queryErr(op, err, lf)
	}
	return out, nil
}

const findColumns = "SELECT documents.key, documents.data, documents.wall, documents.logic, documents.node, documents.expires_at"

// scanDocument reads findColumns, then any more columns into more.
func scanDocument(rows *sql.Rows, collection string, more ...any) (domain.Document, error) {
	d := domain.Document{Collection: collection}
	var data sql.NullString
	if err := rows.Scan(append([]any{&d.Key, &data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.ExpiresAt}, more...)...); err != nil {
		return d, err
	}
	if data.Valid {
		d.Data = []byte(data.String)
	}
	return d, nil
}

// Count returns the number of live documents matching f.
func (s *Store) Count(ctx context.Context, collection string, f domain.Filter) (int, error) {
	var n int
	err := s.read(ctx, func() (err error) {
		n, err = s.count(ctx, collection, f, 0)
		return err
	})
	return n, err
}

var _ ports.BoundedCounter = (*Store)(nil)

// CountUpTo implements ports.BoundedCounter: the scan stops at the
// limit-th match, so a count over a large collection costs what its bound
// does.
func (s *Store) CountUpTo(ctx context.Context, collection string, f domain.Filter, limit int) (int, error) {
	var n int
	err := s.read(ctx, func() (err error) {
		n, err = s.count(ctx, collection, f, limit)
		return err
	})
	return n, err
}

// count counts the matches of f, at most limit of them (0: all).
func (s *Store) count(ctx context.Context, collection string, f domain.Filter, limit int) (int, error) {
	const op = "sqlite.Count"
	q, lf, release, err := s.prepareQuery(collection, f)
	if err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	defer release()
	cuts, done, err := s.splitScan(ctx, collection, q, f != nil)
	if err != nil {
		return 0, queryErr(op, err, lf)
	}
	if cuts != nil {
		defer done()
		n, err := s.countSplit(ctx, q, cuts, limit)
		if err != nil {
			return 0, queryErr(op, err, lf)
		}
		return n, nil
	}
	stmt := "SELECT count(*)" + q.sb.String()
	if limit > 0 {
		stmt = "SELECT count(*) FROM (SELECT 1" + q.sb.String() + " LIMIT " + q.arg(limit) + ")"
	}
	rows, err := s.queries.query(ctx, stmt, q.args...)
	if err != nil {
		return 0, queryErr(op, err, lf)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return 0, queryErr(op, err, lf)
	}
	return n, nil
}

// queryErr types a failed query without quoting SQLite: its messages may
// carry SQL text, which must not reach a client. A document the filter
// could not read is CORRUPTION, as domain.ApplyQuery says.
func queryErr(op string, err error, lf *liveFilter) error {
	if lf != nil {
		if ferr := lf.failure(); ferr != nil {
			return domain.Wrap(domain.CodeCorruption, op, ferr)
		}
	}
	var de *domain.Error
	if errors.As(err, &de) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return mapErr(op, err)
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		return domain.Errorf(codeOf(err), op, "query failed (SQLite result code %d)", se.Code())
	}
	return domain.Errorf(codeOf(err), op, "query failed")
}
