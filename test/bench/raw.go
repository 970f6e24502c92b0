package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the baseline talks to the same driver the store uses
)

// The raw baselines are the ceiling for the put and batch rows: plain
// database/sql over modernc.org/sqlite with the DSN the store uses
// (FIELD-NOTES.md), writing the same ~500-byte documents into a table shaped
// like the store's documents table — one row per document and nothing else
// (no oplog, no clock), which is why they are a ceiling.

const rawSchema = `CREATE TABLE IF NOT EXISTS documents (
	collection TEXT NOT NULL, key TEXT NOT NULL, data TEXT,
	wall INTEGER NOT NULL, logic INTEGER NOT NULL, node TEXT NOT NULL, deleted INTEGER NOT NULL,
	PRIMARY KEY (collection, key))`

const rawUpsert = `INSERT INTO documents (collection, key, data, wall, logic, node, deleted)
	VALUES (?, ?, ?, ?, ?, ?, 0)
	ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall,
	logic = excluded.logic, node = excluded.node, deleted = 0`

func openRaw(dir string) (*sql.DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raw baseline: %w", err)
	}
	path := filepath.Join(dir, "raw.db")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("raw baseline: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(rawSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw baseline: schema: %w", err)
	}
	return db, nil
}

// rawPut writes n documents, one transaction each, through a statement
// prepared once; it returns documents per second.
func rawPut(ctx context.Context, dir string, n int) (float64, error) {
	return rawBatch(ctx, dir, n, 1)
}

// rawBatch writes n documents in transactions of batch rows through a
// prepared statement; it returns documents per second.
func rawBatch(ctx context.Context, dir string, n, batch int) (float64, error) {
	db, err := openRaw(dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	stmt, err := db.PrepareContext(ctx, rawUpsert)
	if err != nil {
		return 0, fmt.Errorf("raw batch: prepare: %w", err)
	}
	defer stmt.Close()
	rnd := rand.New(rand.NewPCG(3, 4))
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = docBody(i, rnd)
	}
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, fmt.Errorf("raw batch: begin: %w", err)
		}
		s := tx.StmtContext(ctx, stmt)
		for i := lo; i < min(lo+batch, n); i++ {
			if _, err := s.ExecContext(ctx, "batch", fmt.Sprintf("k%08d", i), bodies[i], time.Now().UnixMilli(), 0, "raw"); err != nil {
				tx.Rollback()
				return 0, fmt.Errorf("raw batch: insert: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("raw batch: commit: %w", err)
		}
	}
	return rate(n, time.Since(start)), nil
}
