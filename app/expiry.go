package app

import (
	"context"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// PutOptions are the optional parts of a write: a precondition and an
// expiry.
type PutOptions struct {
	// IfVersion makes the write conditional (Database.Put).
	IfVersion *domain.Timestamp
	// ExpiresAt is when the document expires (zero: never). It must be in
	// the future; it travels with the document to every peer, covered by
	// the author's signature, and from then on the document reads as
	// absent everywhere and is collected by maintenance like a delete.
	ExpiresAt time.Time
}

// expiryMs is t in Unix milliseconds, 0 for the zero time (never).
func expiryMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// checkExpiry refuses an expiry a local write may not carry (not in the
// future) and returns it in Unix milliseconds.
func (db *Database) checkExpiry(op string, t time.Time) (int64, error) {
	ms := expiryMs(t)
	if err := domain.ValidateLocalExpiry(ms, db.nowMs()); err != nil {
		return 0, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	return ms, nil
}

// nowMs is the wall time expiry is judged by, in Unix milliseconds.
func (db *Database) nowMs() int64 { return db.now().UnixMilli() }

// expired reports whether a document or entry with expiresAt is past its expiry now.
func (db *Database) expired(expiresAt int64) bool { return domain.Expired(expiresAt, db.nowMs()) }

// PutWith writes body under key with opts and returns its version.
func (db *Database) PutWith(ctx context.Context, collection, key string, body []byte, opts PutOptions) (domain.Timestamp, error) {
	const op = "database.Put"
	exp, err := db.checkExpiry(op, opts.ExpiresAt)
	if err != nil {
		return domain.Timestamp{}, err
	}
	return db.put(ctx, op, collection, key, body, opts.IfVersion, exp)
}

// PutExpiring writes body under key, expiring at expiresAt (which must be in
// the future), and returns its version.
func (c *Collection) PutExpiring(ctx context.Context, key string, body []byte, expiresAt time.Time) (domain.Timestamp, error) {
	return c.db.PutWith(ctx, c.name, key, body, PutOptions{ExpiresAt: expiresAt})
}

// PutWith writes body under key with opts (a precondition, an expiry).
func (c *Collection) PutWith(ctx context.Context, key string, body []byte, opts PutOptions) (domain.Timestamp, error) {
	return c.db.PutWith(ctx, c.name, key, body, opts)
}
