package sqlite

import (
	"context"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mapErr gives a driver error its domain code at the adapter boundary, so
// callers never look at SQLite result codes. Errors that already carry a
// domain code keep it.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return domain.Wrap(de.Code, op, err)
	}
	return &domain.Error{Code: codeOf(err), Op: op, Err: err}
}

func codeOf(err error) domain.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return domain.CodeTimeout
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		// Extended result codes keep the primary code in the low byte.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return domain.CodeCorruption
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return domain.CodeTimeout
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
			return domain.CodePersistence
		}
	}
	return domain.CodePersistence
}
