package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// Splitting a scan. A query that reads the whole collection (no index
// narrows it: an unindexed filter, or a sort, which reads every match)
// runs as one statement per part of the collection's key range, each on
// its own read connection, at once; the parts' rows merge in the query's
// order. SQLite runs a statement on one thread, so this is how such a
// query uses more than one core. The statements read one snapshot: their
// read transactions start while writers are held off, as copyTo's does.

// splitState is the store's memory of how to cut its collections.
type splitState struct {
	// running admits one split query at a time: it holds several read
	// connections, and two waiting for each other's could starve the pool.
	running sync.Mutex
	mu      sync.Mutex
	cuts    map[string]splitCuts
	// minRows is the smallest collection worth splitting (0: splitMinRows);
	// parts overrides splitParts (0: by the cores). Tests set both.
	minRows, parts int
	// ran counts the queries that ran split.
	ran atomic.Int64
}

// splitCuts are the keys cutting a collection into parts of about equal
// rows, as counted at the time; nil when it is too small to split.
type splitCuts struct {
	keys  []string
	parts int
	at    time.Time
}

const (
	// splitMinRows: below this, a whole scan costs less than starting the
	// parts' transactions.
	splitMinRows = 20_000
	// splitCutsFor is how long cuts are reused. They only balance the
	// parts, so stale ones cost speed, never a result.
	splitCutsFor = 30 * time.Second
	// splitMaxParts bounds the connections one query holds.
	splitMaxParts = 4
	// splitMaxCollections bounds the collections whose cuts are kept.
	splitMaxCollections = 1024
)

// splitParts is how many parts a whole scan is cut into: one per core, and
// at most half the read pool, so other readers keep connections.
func (s *Store) splitParts() int {
	s.split.mu.Lock()
	defer s.split.mu.Unlock()
	if s.split.parts > 0 {
		return s.split.parts
	}
	return min(runtime.GOMAXPROCS(0), s.opts.ReadConns/2, splitMaxParts)
}

// cutsOf returns the keys cutting collection into parts (in key order),
// nil when the collection is not worth splitting.
func (s *Store) cutsOf(ctx context.Context, collection string, parts int) ([]string, error) {
	sp := &s.split
	sp.mu.Lock()
	c, ok := sp.cuts[collection]
	minRows := sp.minRows
	sp.mu.Unlock()
	if ok && time.Since(c.at) < splitCutsFor && c.parts == parts {
		return c.keys, nil
	}
	if minRows <= 0 {
		minRows = splitMinRows
	}
	// Both walk the collection's key index alone, never the documents.
	var n int
	if err := s.reader.DB.QueryRowContext(ctx, `SELECT count(*) FROM documents WHERE collection = ?`, collection).Scan(&n); err != nil {
		return nil, err
	}
	var keys []string
	if n >= minRows && n >= parts {
		for i := 1; i < parts; i++ {
			var k string
			if err := s.reader.DB.QueryRowContext(ctx, `SELECT key FROM documents WHERE collection = ? ORDER BY key LIMIT 1 OFFSET ?`,
				collection, n*i/parts).Scan(&k); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			if len(keys) == 0 || k > keys[len(keys)-1] {
				keys = append(keys, k)
			}
		}
	}
	sp.mu.Lock()
	if sp.cuts == nil || len(sp.cuts) >= splitMaxCollections {
		sp.cuts = map[string]splitCuts{} // names are the client's: bounded
	}
	sp.cuts[collection] = splitCuts{keys: keys, parts: parts, at: time.Now()}
	sp.mu.Unlock()
	return keys, nil
}

// pinnedTxs opens n read transactions on one snapshot of the database.
// release ends them.
func (s *Store) pinnedTxs(ctx context.Context, n int) (txs []*sql.Tx, release func(), err error) {
	conns := make([]*sql.Conn, 0, n)
	release = func() {
		for _, tx := range txs {
			_ = tx.Rollback()
		}
		for _, c := range conns {
			_ = c.Close()
		}
	}
	// The connections first, the transactions with writers held off: no
	// writer waits on a connection another reader holds.
	for range n {
		c, err := s.reader.DB.Conn(ctx)
		if err != nil {
			release()
			return nil, nil, err
		}
		conns = append(conns, c)
	}
	err = s.readPinned(ctx, func() error {
		for _, c := range conns {
			tx, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			txs = append(txs, tx)
			// SQLite takes a transaction's snapshot at its first read.
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM meta`).Scan(&one); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	return txs, release, nil
}

// partRange writes the condition holding a statement to one part: keys
// from the part's lowest on, before the next part's. runSplit binds them,
// at the places in args it returns.
func (q *queryBuilder) partRange() (loArg, hiArg int) {
	q.w(" AND documents.key >= ", q.arg(""))
	loArg = len(q.args) - 1
	q.w(" AND documents.key < ", q.arg([]byte{}))
	return loArg, len(q.args) - 1
}

// splitRow is a row of a part, with the sort keys it is ordered by.
type splitRow[T any] struct {
	row  T
	key  string
	sort [][]byte
}

// runSplit runs stmt once per part over one snapshot, at once: args with
// the part's lowest key at loArg and the key past its last at hiArg (the
// last part's is a blob, which sorts after every text). scan reads one
// row. The parts' rows come back in the order of the parts.
func runSplit[T any](ctx context.Context, s *Store, cuts []string, stmt string, args []any, loArg, hiArg int,
	scan func(*sql.Rows) (splitRow[T], error)) ([][]splitRow[T], error) {
	txs, release, err := s.pinnedTxs(ctx, len(cuts)+1)
	if err != nil {
		return nil, err
	}
	defer release()
	s.split.ran.Add(1)
	prepared, err := s.queries.stmt(ctx, stmt)
	if err != nil {
		return nil, err
	}
	out := make([][]splitRow[T], len(txs))
	errs := make([]error, len(txs))
	var wg sync.WaitGroup
	for i, tx := range txs {
		partArgs := slices.Clone(args)
		partArgs[loArg], partArgs[hiArg] = "", []byte{}
		if i > 0 {
			partArgs[loArg] = cuts[i-1]
		}
		if i < len(cuts) {
			partArgs[hiArg] = cuts[i]
		}
		wg.Go(func() {
			var rows *sql.Rows
			if prepared != nil {
				rows, errs[i] = tx.StmtContext(ctx, prepared).QueryContext(ctx, partArgs...)
			} else {
				rows, errs[i] = tx.QueryContext(ctx, stmt, partArgs...)
			}
			if errs[i] != nil {
				return
			}
			defer rows.Close()
			for rows.Next() {
				r, err := scan(rows)
				if err != nil {
					errs[i] = err
					return
				}
				out[i] = append(out[i], r)
			}
			errs[i] = rows.Err()
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// mergeSplit puts the parts' rows in the query's order: by the sort keys
// (desc[i]: the i-th descending), then by key. Without sort keys the parts
// are already in key order, one after the other.
func mergeSplit[T any](parts [][]splitRow[T], desc []bool) []T {
	var all []splitRow[T]
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(desc) > 0 {
		slices.SortStableFunc(all, func(a, b splitRow[T]) int {
			for i, d := range desc {
				if c := bytes.Compare(a.sort[i], b.sort[i]); c != 0 {
					if d {
						return -c
					}
					return c
				}
			}
			if a.key < b.key {
				return -1
			}
			if a.key > b.key {
				return 1
			}
			return 0
		})
	}
	out := make([]T, len(all))
	for i, r := range all {
		out[i] = r.row
	}
	return out
}

// splitScan returns the cuts to split q over, and the release of the
// split's turn, when q reads the whole collection (reads: it filters or
// sorts, and no index narrows it), the collection is large and no other
// split query runs; else nil cuts, and the query runs as one statement.
func (s *Store) splitScan(ctx context.Context, collection string, q *queryBuilder, reads bool) (cuts []string, done func(), err error) {
	parts := s.splitParts()
	if !reads || q.usesIndex || parts < 2 {
		return nil, nil, nil
	}
	if cuts, err = s.cutsOf(ctx, collection, parts); err != nil || len(cuts) == 0 {
		return nil, nil, err
	}
	if !s.split.running.TryLock() {
		return nil, nil, nil
	}
	return cuts, s.split.running.Unlock, nil
}

// findSplit is find over the parts cuts make, merged, then paged.
func (s *Store) findSplit(ctx context.Context, collection string, q *queryBuilder, orders []domain.Order, cuts []string, skip, take int64) ([]domain.Document, error) {
	loArg, hiArg := q.partRange()
	// The sort keys are columns too: the parts merge by them.
	cols := findColumns
	desc := make([]bool, len(orders))
	q.w(" ORDER BY ")
	for i, o := range orders {
		d, name := "0", "sort"+strconv.Itoa(i)
		if o.Desc {
			d = "1"
		}
		cols += ", entgl_sortkey(documents.data, " + q.arg(o.Path) + ", " + d + ") AS " + name
		q.w(name)
		if o.Desc {
			q.w(" DESC")
		}
		q.w(", ")
		desc[i] = o.Desc
	}
	q.w("documents.key")
	// Each part may hold the whole page.
	limit := int64(-1)
	if take >= 0 {
		limit = skip + take
	}
	q.w(" LIMIT ", q.arg(limit))
	parts, err := runSplit(ctx, s, cuts, cols+q.sb.String(), q.args, loArg, hiArg, func(rows *sql.Rows) (splitRow[domain.Document], error) {
		r := splitRow[domain.Document]{sort: make([][]byte, len(orders))}
		more := make([]any, len(orders))
		for i := range r.sort {
			more[i] = &r.sort[i]
		}
		var err error
		r.row, err = scanDocument(rows, collection, more...)
		r.key = r.row.Key
		return r, err
	})
	if err != nil {
		return nil, err
	}
	out := mergeSplit(parts, desc)
	out = out[min(int(skip), len(out)):]
	if take >= 0 {
		out = out[:min(int(take), len(out))]
	}
	return out, nil
}

// countSplit is count over the parts cuts make, at most limit (0: all).
// A bounded count streams each part's matches and stops every part once
// together they reached the limit: where matches are dense, the parts
// read no more than one statement would.
func (s *Store) countSplit(ctx context.Context, q *queryBuilder, cuts []string, limit int) (int, error) {
	loArg, hiArg := q.partRange()
	if limit <= 0 {
		parts, err := runSplit(ctx, s, cuts, "SELECT count(*)"+q.sb.String(), q.args, loArg, hiArg, func(rows *sql.Rows) (splitRow[int], error) {
			var r splitRow[int]
			return r, rows.Scan(&r.row)
		})
		n := 0
		for _, p := range parts {
			for _, r := range p {
				n += r.row
			}
		}
		return n, err
	}
	stmt := "SELECT 1" + q.sb.String() + " LIMIT " + q.arg(limit)
	ctx, reached := context.WithCancel(ctx)
	defer reached()
	var n atomic.Int64
	_, err := runSplit(ctx, s, cuts, stmt, q.args, loArg, hiArg, func(*sql.Rows) (splitRow[struct{}], error) {
		if n.Add(1) >= int64(limit) {
			reached()
		}
		return splitRow[struct{}]{}, nil
	})
	if n.Load() >= int64(limit) {
		return limit, nil // the parts stopped by reached() failed with its cancellation
	}
	return int(n.Load()), err
}
