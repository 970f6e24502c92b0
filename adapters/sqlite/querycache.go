package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// queryCache keeps prepared Find/Count statements by SQL text: query shapes
// repeat, and compiling one costs more than running it on an index. It
// never evicts (a statement in use must not be closed under its caller);
// once full, further shapes run unprepared.
type queryCache struct {
	mu     sync.Mutex
	db     *sql.DB
	max    int
	m      map[string]*sql.Stmt
	closed bool
}

func (c *queryCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// stmt returns the statement prepared for query, nil once the cache is full.
func (c *queryCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	full := c.closed || len(c.m) >= c.max
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	prepared, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, raced := c.m[query]; raced || c.closed {
		_ = prepared.Close()
		return prev, nil
	}
	c.m[query] = prepared
	return prepared, nil
}

func (c *queryCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}
