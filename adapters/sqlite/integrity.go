package sqlite

import (
	"context"
	"database/sql"
	"os"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

type queryFunc func(ctx context.Context, query string, args ...any) (*sql.Rows, error)

// checkDB runs quick_check (deep=false) or integrity_check and returns a
// CORRUPTION error listing every problem SQLite reports.
func checkDB(ctx context.Context, query queryFunc, deep bool) error {
	const op = "sqlite.CheckIntegrity"
	pragma := "PRAGMA quick_check"
	if deep {
		pragma = "PRAGMA integrity_check"
	}
	rows, err := query(ctx, pragma)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return mapErr(op, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(op, err)
	}
	if len(problems) > 0 {
		return domain.Errorf(domain.CodeCorruption, op, "database is corrupt: %s", strings.Join(problems, "; "))
	}
	return nil
}

// CheckIntegrity checks the open database.
func (s *Store) CheckIntegrity(ctx context.Context, deep bool) error {
	return checkDB(ctx, s.reader.DB.QueryContext, deep)
}

// openFile opens an existing database file for offline maintenance (no node
// running), never creating one.
func openFile(path string) (*sql.DB, error) {
	const op = "sqlite.openFile"
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, domain.Errorf(domain.CodeNotFound, op, "database file %s does not exist", path)
		}
		return nil, domain.Wrap(domain.CodePersistence, op, err)
	}
	if fi.IsDir() {
		return nil, domain.Errorf(domain.CodeInvalidArgument, op, "%s is a directory", path)
	}
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?mode=rw&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, mapErr(op, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// CheckFile checks a database file with no node running: quick_check, or
// integrity_check when deep.
func CheckFile(ctx context.Context, path string, deep bool) error {
	db, err := openFile(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkDB(ctx, db.QueryContext, deep); err != nil {
		return domain.Errorf(domain.CodeOf(err), "sqlite.CheckFile", "%s: %w", path, err)
	}
	return nil
}
