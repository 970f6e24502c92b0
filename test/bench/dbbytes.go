package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
)

// dbSize is what a stopped node's database file costs for its documents.
type dbSize struct {
	file      int64 // the database file (a stopped node leaves no WAL)
	userIndex int64 // of which the expression indexes EnsureIndex made (docidx_*)
	json      int64 // the JSON of the live documents
}

// ratio is the database bytes per JSON byte, without the expression
// indexes: what storing the documents costs, not what the find rows asked
// for.
func (d dbSize) ratio() float64 {
	if d.json == 0 {
		return 0
	}
	return float64(d.file-d.userIndex) / float64(d.json)
}

// measureDB reads the sizes of the stopped node's database at path.
func measureDB(ctx context.Context, path string) (dbSize, error) {
	var d dbSize
	if _, err := os.Stat(path + "-wal"); err == nil {
		return d, fmt.Errorf("db bytes: %s-wal exists; the node did not stop cleanly", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return d, fmt.Errorf("db bytes: %w", err)
	}
	d.file = fi.Size()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return d, fmt.Errorf("db bytes: %w", err)
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'docidx\_%' ESCAPE '\'),
		(SELECT coalesce(sum(length(CAST(data AS BLOB))), 0) FROM documents WHERE deleted = 0)`).Scan(&d.userIndex, &d.json)
	if err != nil {
		return d, fmt.Errorf("db bytes: %w", err)
	}
	return d, nil
}
