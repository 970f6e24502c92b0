package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/uptrace/bun"
)

// SchemaVersion is the newest schema this binary knows.
const SchemaVersion = 8

// migrations[i] brings the schema from version i to i+1. They are frozen SQL
// text, never edited once released: a model change is a new migration.
// (Version 1 was last changed before any release: no vclock trigger, no
// AUTOINCREMENT on the oplog, no eager oplog_doc index.)
var migrations = [][]string{
	{ // 0 → 1: the initial schema.
		`CREATE TABLE IF NOT EXISTS meta (
			key   TEXT PRIMARY KEY,
			value TEXT NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS documents (
			collection TEXT    NOT NULL,
			key        TEXT    NOT NULL,
			data       TEXT,
			wall       INTEGER NOT NULL,
			logic      INTEGER NOT NULL,
			node       TEXT    NOT NULL,
			deleted    INTEGER NOT NULL DEFAULT 0,
			PRIMARY KEY (collection, key)
		)`,
		// Every index here costs each write a page: the unique key
		// (re-delivery is a no-op; its (node, wall, logic) prefix serves
		// per-author reads and ChainRange), oplog_stamp (HLC order for
		// EntriesAfter and NewestStamp), oplog_hash (ChainRange looks up
		// arbitrary hashes a peer names, by prefix). The index by document only
		// replays need is built by the first one (docIndexSQL). seq is
		// the rowid without AUTOINCREMENT: Prune keeps the greatest seq
		// (pruneWhere), so seq still only grows.
		`CREATE TABLE IF NOT EXISTS oplog (
			seq        INTEGER PRIMARY KEY,
			collection TEXT    NOT NULL,
			key        TEXT    NOT NULL,
			op         INTEGER NOT NULL,
			data       TEXT,
			wall       INTEGER NOT NULL,
			logic      INTEGER NOT NULL,
			node       TEXT    NOT NULL,
			hash       TEXT    NOT NULL,
			prev_hash  TEXT    NOT NULL,
			UNIQUE (node, wall, logic, collection, key)
		)`,
		`CREATE INDEX IF NOT EXISTS oplog_stamp ON oplog (wall, logic, node)`,
		// A hash's first 8 hex digits find it: a quarter of the full
		// hash's index size, and inserts at random places (hashes are
		// random) dirty a quarter of the pages.
		`CREATE INDEX IF NOT EXISTS oplog_hash ON oplog (substr(hash, 1, 8))`,
		`CREATE TABLE IF NOT EXISTS vclock (
			author TEXT PRIMARY KEY,
			wall   INTEGER NOT NULL,
			logic  INTEGER NOT NULL,
			hash   TEXT    NOT NULL
		)`,
		// pruned keeps, per author, the newest entry dropped by Prune (or the
		// head a snapshot started from): the chain resumes after it.
		`CREATE TABLE IF NOT EXISTS pruned (
			author TEXT PRIMARY KEY,
			wall   INTEGER NOT NULL,
			logic  INTEGER NOT NULL,
			hash   TEXT    NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS peers (
			node_id   TEXT PRIMARY KEY,
			address   TEXT    NOT NULL,
			source    TEXT    NOT NULL,
			interests TEXT    NOT NULL DEFAULT '[]',
			last_seen INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE TABLE IF NOT EXISTS queue (
			id         INTEGER PRIMARY KEY AUTOINCREMENT,
			op         INTEGER NOT NULL,
			collection TEXT    NOT NULL,
			key        TEXT    NOT NULL,
			data       TEXT,
			wall       INTEGER NOT NULL,
			logic      INTEGER NOT NULL,
			node       TEXT    NOT NULL,
			queued_at  INTEGER NOT NULL
		)`,
		// doc_indexes remembers the JSON paths given to EnsureIndex; queries
		// on these paths name the path literally so the planner can use the
		// expression index.
		`CREATE TABLE IF NOT EXISTS doc_indexes (
			path TEXT PRIMARY KEY,
			name TEXT NOT NULL
		)`,
	},
	{ // 1 → 2: a local write commits its oplog entry alone (pending.go).
		// The indexes in HLC order and by hash cost every write two
		// pages for reads that are rare (the v4 pull, chain-gap repair)
		// and now merge authors' ranges or scan backwards instead. Every
		// entry of a version-1 file is already in the documents table.
		`DROP INDEX IF EXISTS oplog_stamp`,
		`DROP INDEX IF EXISTS oplog_hash`,
		`INSERT INTO meta (key, value) SELECT 'materialized_seq', coalesce(max(seq), 0) FROM oplog WHERE true
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
	},
	{ // 2 → 3: the identity key first seen for each peer node id (peerkeys.go).
		`CREATE TABLE IF NOT EXISTS peer_keys (
			node_id    TEXT    PRIMARY KEY,
			public_key BLOB    NOT NULL,
			first_seen INTEGER NOT NULL
		)`,
	},
	{ // 3 → 4: proven authors (domain/authorproof.go): each entry's content
		// link (NULL: unknown), the proof that arrived with it or that we
		// signed (proofcodec.go), and whether it was taken without proof
		// from the C#/TypeScript family. linkHeldChains then links the
		// entries already held.
		`ALTER TABLE oplog ADD COLUMN link BLOB`,
		`ALTER TABLE oplog ADD COLUMN proof BLOB`,
		`ALTER TABLE oplog ADD COLUMN legacy INTEGER NOT NULL DEFAULT 0`,
	},
	{ // 4 → 5: compaction (compact.go). link_boundaries keeps the content
		// link of each removed entry whose successor stays, one row per
		// hole: LinkOf answers from it, ChainRange refuses to cross it.
		// The offline queue counts the oplog now: its table goes.
		`CREATE TABLE IF NOT EXISTS link_boundaries (
			hash TEXT PRIMARY KEY,
			link BLOB
		) WITHOUT ROWID`,
		`DROP TABLE IF EXISTS queue`,
	},
	{ // 5 → 6: document expiry (issue 17). The oplog keeps each entry's
		// expiry exactly (the author's proof covers it), the documents
		// table the expiry of the version it holds (0: never); reads hide
		// a document once it is due, and maintenance collects it. The
		// partial index finds the due ones without a scan.
		`ALTER TABLE oplog ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE documents ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0`,
		`CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at) WHERE expires_at <> 0`,
	},
	{ // 6 → 7: each document's bytes stored once (storedonce.go). A
		// canonical hash (64 lowercase hex digits) is kept as its 32
		// bytes; an entry whose document row holds its version keeps no
		// data, and the triggers give it back when the row moves on; an
		// entry that chains from the row before it (by seq) keeps no
		// prev_hash, and gets it back when that row goes.
		// The table is built anew rather than updated in place: a row
		// that shrinks leaves its page as empty as it made it.
		`CREATE TABLE oplog_v7 (
			seq        INTEGER PRIMARY KEY,
			collection TEXT    NOT NULL,
			key        TEXT    NOT NULL,
			op         INTEGER NOT NULL,
			data       TEXT,
			wall       INTEGER NOT NULL,
			logic      INTEGER NOT NULL,
			node       TEXT    NOT NULL,
			hash       BLOB    NOT NULL,
			prev_hash  BLOB,
			link       BLOB,
			proof      BLOB,
			legacy     INTEGER NOT NULL DEFAULT 0,
			expires_at INTEGER NOT NULL DEFAULT 0,
			UNIQUE (node, wall, logic, collection, key)
		)`,
		`INSERT INTO oplog_v7 (seq, collection, key, op, data, wall, logic, node, hash, prev_hash, link, proof, legacy, expires_at)
			SELECT seq, collection, key, op,
				CASE WHEN op = 0 AND data = (SELECT d.data FROM documents d WHERE d.collection = oplog.collection AND d.key = oplog.key
					AND d.wall = oplog.wall AND d.logic = oplog.logic AND d.node = oplog.node) THEN NULL ELSE data END,
				wall, logic, node,
				CASE WHEN length(hash) = 64 AND NOT hash GLOB '*[^0-9a-f]*' THEN unhex(hash) ELSE hash END,
				CASE WHEN prev_hash = (SELECT p.hash FROM oplog p WHERE p.seq = oplog.seq - 1) THEN NULL
					WHEN length(prev_hash) = 64 AND NOT prev_hash GLOB '*[^0-9a-f]*' THEN unhex(prev_hash) ELSE prev_hash END,
				link, proof, legacy, expires_at
			FROM oplog ORDER BY seq`,
		`DROP TABLE oplog`,
		`ALTER TABLE oplog_v7 RENAME TO oplog`,
		`CREATE TRIGGER IF NOT EXISTS documents_superseded AFTER UPDATE OF data, wall, logic, node ON documents
			WHEN old.data IS NOT NULL AND (new.data IS NOT old.data OR new.wall <> old.wall OR new.logic <> old.logic OR new.node <> old.node)
			BEGIN
				UPDATE oplog SET data = old.data WHERE node = old.node AND wall = old.wall AND logic = old.logic
					AND collection = old.collection AND key = old.key AND op = 0 AND data IS NULL;
			END`,
		`CREATE TRIGGER IF NOT EXISTS oplog_removed AFTER DELETE ON oplog
			BEGIN
				UPDATE oplog SET prev_hash = old.hash WHERE seq = old.seq + 1 AND prev_hash IS NULL;
			END`,
		`CREATE TRIGGER IF NOT EXISTS documents_removed AFTER DELETE ON documents
			WHEN old.data IS NOT NULL
			BEGIN
				UPDATE oplog SET data = old.data WHERE node = old.node AND wall = old.wall AND logic = old.logic
					AND collection = old.collection AND key = old.key AND op = 0 AND data IS NULL;
			END`,
	},
	{ // 7 → 8: no statement. The proof column may now hold a bridge (version
		// byte 2, compactbridges.go), which an earlier binary would read as a
		// corrupt proof: the version makes it refuse the database (and a
		// node's snapshot file) cleanly instead.
	},
}

// migrationCode[i] runs after the SQL of migrations[i], for what SQL cannot
// compute.
var migrationCode = map[int]func(ctx context.Context, tx bun.Tx) error{
	3: linkHeldChains,
}

const metaSchemaVersion = "schema_version"

// migrate brings the database to SchemaVersion in one transaction. A database
// written by a newer binary is refused: a silent downgrade would lose data.
func migrate(ctx context.Context, db *bun.DB) error {
	const op = "sqlite.migrate"
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, migrations[0][0]); err != nil {
			return mapErr(op, err)
		}
		current := 0
		var v string
		err := tx.NewSelect().Table("meta").Column("value").Where("key = ?", metaSchemaVersion).Scan(ctx, &v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return mapErr(op, err)
		default:
			current, err = strconv.Atoi(v)
			if err != nil {
				return domain.Errorf(domain.CodePersistence, op, "schema_version %q is not a number", v)
			}
		}
		if current > SchemaVersion {
			return domain.Errorf(domain.CodePersistence, op,
				"database schema version %d is newer than this binary supports (%d); upgrade entgldb", current, SchemaVersion)
		}
		for ; current < SchemaVersion; current++ {
			for _, stmt := range migrations[current] {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return mapErr(op, err)
				}
			}
			if code := migrationCode[current]; code != nil {
				if err := code(ctx, tx); err != nil {
					return mapErr(op, err)
				}
			}
		}
		_, err = tx.NewRaw(`INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaSchemaVersion, strconv.Itoa(SchemaVersion)).Exec(ctx)
		return mapErr(op, err)
	})
}
