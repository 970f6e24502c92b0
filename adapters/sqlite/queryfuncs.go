package sqlite

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	msqlite "modernc.org/sqlite"

	"github.com/entgldb/entgldb-go/domain"
)

// Filters and sort keys run inside SQLite as Go functions: the evaluator
// that decides is domain's reference evaluator itself, so the store and
// domain.ApplyQuery cannot disagree on a match or an order, and no filter
// ever becomes SQL text (whatever its size, depth or field names). SQL
// keeps the part it is good at: narrowing the rows through an index first
// (query.go).
//
//	entgl_match(data, id)        1 when the compiled filter registered as id matches
//	entgl_sortkey(data, path, d) domain.SortKey of the document (d: descending)

func init() {
	msqlite.MustRegisterDeterministicScalarFunction("entgl_match", 2, sqlMatch)
	msqlite.MustRegisterDeterministicScalarFunction("entgl_sortkey", 3, sqlSortKey)
}

// liveFilter is a compiled filter lent to one running statement.
type liveFilter struct {
	m   *domain.Matcher
	mu  sync.Mutex
	err error // the first document the filter could not read
}

var (
	liveFilters  sync.Map // int64 → *liveFilter
	nextFilterID atomic.Int64
)

// lendFilter makes m callable from SQL as entgl_match(data, id) until
// release is called.
func lendFilter(m *domain.Matcher) (id int64, lf *liveFilter, release func()) {
	id = nextFilterID.Add(1)
	lf = &liveFilter{m: m}
	liveFilters.Store(id, lf)
	return id, lf, func() { liveFilters.Delete(id) }
}

// failure is the error a document gave the filter, if any.
func (lf *liveFilter) failure() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.err
}

var errNoFilter = errors.New("entgl_match: filter not registered")

func sqlMatch(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	id, _ := args[1].(int64)
	v, ok := liveFilters.Load(id)
	if !ok {
		return nil, errNoFilter
	}
	lf := v.(*liveFilter)
	data, ok := textArg(args[0])
	if !ok {
		return int64(0), nil // no document (a tombstone): never a match
	}
	match, err := lf.m.MatchText(data)
	if err != nil {
		lf.mu.Lock()
		if lf.err == nil {
			lf.err = err
		}
		lf.mu.Unlock()
		return nil, err
	}
	if match {
		return int64(1), nil
	}
	return int64(0), nil
}

func sqlSortKey(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	data, ok := textArg(args[0])
	if !ok {
		return []byte{}, nil
	}
	path, _ := args[1].(string)
	desc, _ := args[2].(int64)
	key, err := domain.SortKeyText(data, path, desc != 0)
	if err != nil {
		return nil, fmt.Errorf("entgl_sortkey: %w", err)
	}
	return key, nil
}

func textArg(v driver.Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}
