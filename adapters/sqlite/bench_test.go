package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Each benchmark runs beside a raw database/sql + modernc baseline doing the
// same rows in the same run. Documents are ~500 bytes of JSON.

const benchDSN = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// cpuClock reports the process's CPU time per op beside wall time: on a
// shared, loaded machine wall time swings several-fold between runs while
// CPU time stays comparable between the store and its baseline. Like the
// benchmark timer it pauses while a benchmark builds its input.
type cpuClock struct{ used, since time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() *cpuClock { return &cpuClock{since: cpuNow()} }

func (c *cpuClock) pause()  { c.used += cpuNow() - c.since }
func (c *cpuClock) resume() { c.since = cpuNow() }

func (c *cpuClock) report(b *testing.B, ops int) {
	b.ReportMetric(float64((c.used+cpuNow()-c.since).Microseconds())/float64(ops), "cpu-µs/op")
}

// benchBio is quoted once: fmt's %q per document cost more CPU than the
// store spent on it, in the same process as the timed work.
var benchBio = strconv.Quote(strings.Repeat("lorem ipsum ", 36))

func benchDoc(i int) []byte {
	return fmt.Appendf(nil, `{"n":%d,"name":"user-%d","email":"user%d@example.com","tags":["a","b","c"],"bio":%s}`,
		i%1000, i, i, benchBio)
}

func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"), EnableWAL: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// rawDB is the baseline: the same documents and oplog tables (the store's
// schema, version 2: the oplog keeps only its unique key), one connection,
// prepared statements.
func rawDB(b *testing.B) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+benchDSN)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { _ = db.Close() })
	for _, q := range []string{
		`CREATE TABLE documents (collection TEXT NOT NULL, key TEXT NOT NULL, data TEXT, wall INTEGER NOT NULL,
			logic INTEGER NOT NULL, node TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (collection, key))`,
		`CREATE TABLE oplog (seq INTEGER PRIMARY KEY, collection TEXT NOT NULL, key TEXT NOT NULL, op INTEGER NOT NULL,
			data TEXT, wall INTEGER NOT NULL, logic INTEGER NOT NULL, node TEXT NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
			UNIQUE (node, wall, logic, collection, key))`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func mustPrepare(b *testing.B, db *sql.DB, q string) *sql.Stmt {
	st, err := db.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

const rawUpsertDoc = `INSERT INTO documents (collection, key, data, wall, logic, node, deleted) VALUES (?, ?, ?, ?, ?, ?, 0)
	ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall, logic = excluded.logic, node = excluded.node`

const rawInsertOplog = `INSERT INTO oplog (collection, key, op, data, wall, logic, node, hash, prev_hash) VALUES (?, ?, 0, ?, ?, 0, ?, ?, ?)`

func BenchmarkCommit(b *testing.B) {
	b.Run("store", func(b *testing.B) {
		s := benchStore(b)
		ctx := context.Background()
		i := 0
		cpu := startCPU()
		for b.Loop() {
			_, err := s.Commit(ctx, domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{Collection: "users", Key: fmt.Sprintf("u%d", i),
				Op: domain.OpPut, Data: benchDoc(i), Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "A"}}})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
	// raw-1row: the field-notes baseline, one prepared INSERT per transaction.
	b.Run("raw-1row", func(b *testing.B) {
		db := rawDB(b)
		st := mustPrepare(b, db, rawUpsertDoc)
		i := 0
		cpu := startCPU()
		for b.Loop() {
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Stmt(st).Exec("users", fmt.Sprintf("u%d", i), string(benchDoc(i)), wall0+int64(i), 0, "A"); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			i++
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
	// raw-samerows: what Commit writes (document and oplog row), by hand.
	b.Run("raw-samerows", func(b *testing.B) {
		db := rawDB(b)
		doc, op := mustPrepare(b, db, rawUpsertDoc), mustPrepare(b, db, rawInsertOplog)
		i := 0
		cpu := startCPU()
		for b.Loop() {
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			data, key := string(benchDoc(i)), fmt.Sprintf("u%d", i)
			if _, err := tx.Stmt(op).Exec("users", key, data, wall0+int64(i), "A", fmt.Sprintf("h%d", i), fmt.Sprintf("h%d", i-1)); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Stmt(doc).Exec("users", key, data, wall0+int64(i), 0, "A"); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			i++
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
}

// BenchmarkCommitBatch1000: one local Commit of 1,000 writes (the app's
// Batch) beside raw 1,000-row transactions into documents alone, the
// ceiling make bench's batch row compares with.
func BenchmarkCommitBatch1000(b *testing.B) {
	const size = 1000
	b.Run("store", func(b *testing.B) {
		s := benchStore(b)
		ctx := context.Background()
		n := 0
		cpu := startCPU()
		for b.Loop() {
			b.StopTimer()
			cpu.pause()
			writes := make([]ports.Write, size)
			for j := range writes {
				i := n*size + j
				writes[j] = ports.Write{Entry: domain.Entry{Collection: "users", Key: fmt.Sprintf("u%d", i), Op: domain.OpPut,
					Data: benchDoc(i), Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "A"}}}
			}
			b.StartTimer()
			cpu.resume()
			if _, err := s.Commit(ctx, domain.LastWriteWins{}, writes...); err != nil {
				b.Fatal(err)
			}
			n++
		}
		cpu.report(b, n)
		b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("raw-docs", func(b *testing.B) {
		db := rawDB(b)
		st := mustPrepare(b, db, rawUpsertDoc)
		n := 0
		cpu := startCPU()
		for b.Loop() {
			b.StopTimer()
			cpu.pause()
			keys, docs := make([]string, size), make([]string, size)
			for j := range size {
				keys[j], docs[j] = fmt.Sprintf("u%d", n*size+j), string(benchDoc(n*size+j))
			}
			b.StartTimer()
			cpu.resume()
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			tst := tx.Stmt(st)
			for j := range size {
				if _, err := tst.Exec("users", keys[j], docs[j], wall0+int64(n*size+j), 0, "A"); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		cpu.report(b, n)
		b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "docs/s")
	})
}

func remoteBatch(batch, size int) []domain.Entry {
	out := make([]domain.Entry, size)
	prev := ""
	for j := range out {
		i := batch*size + j
		e := domain.Entry{Collection: "users", Key: fmt.Sprintf("u%d", i%5000), Op: domain.OpPut, Data: benchDoc(i),
			Stamp: domain.Timestamp{Wall: wall0 + int64(i), Node: "B"}}
		e.Seal(prev)
		prev = e.Hash
		out[j] = e
	}
	// As a Go peer's entries arrive once verified: each with its link,
	// the last with its author's proof.
	for j, l := range domain.LinkRun(domain.GenesisLink, out) {
		out[j].Link = l
	}
	out[size-1].Proof = &domain.AuthorProof{PublicKey: make([]byte, ed25519.PublicKeySize), Signature: make([]byte, ed25519.SignatureSize)}
	return out
}

// BenchmarkApplyRemote1000 applies 1,000-entry batches over 5,000 keys
// (mostly updates); BenchmarkApplyRemote1000NewKeys gives every entry its
// own key, as a bootstrap does.
func BenchmarkApplyRemote1000(b *testing.B) { benchApplyRemote(b, remoteBatch) }

func BenchmarkApplyRemote1000NewKeys(b *testing.B) { benchApplyRemote(b, remoteBatchKeys) }

func benchApplyRemote(b *testing.B, remoteBatch func(batch, size int) []domain.Entry) {
	const size = 1000
	b.Run("store", func(b *testing.B) {
		s := benchStore(b)
		ctx := context.Background()
		n := 0
		cpu := startCPU()
		for b.Loop() {
			b.StopTimer()
			cpu.pause()
			batch := remoteBatch(n, size)
			b.StartTimer()
			cpu.resume()
			res, err := s.ApplyRemote(ctx, domain.LastWriteWins{}, batch)
			if err != nil || len(res.Applied) != size {
				b.Fatal(err, len(res.Applied))
			}
			n++
		}
		cpu.report(b, n)
		b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("raw", func(b *testing.B) {
		db := rawDB(b)
		doc, op := mustPrepare(b, db, rawUpsertDoc), mustPrepare(b, db, rawInsertOplog)
		n := 0
		cpu := startCPU()
		for b.Loop() {
			b.StopTimer()
			cpu.pause()
			batch := remoteBatch(n, size)
			b.StartTimer()
			cpu.resume()
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			tdoc, top := tx.Stmt(doc), tx.Stmt(op)
			for i := range batch {
				e := &batch[i]
				data := string(e.Data)
				if _, err := top.Exec(e.Collection, e.Key, data, e.Stamp.Wall, e.Stamp.Node, e.Hash, e.PrevHash); err != nil {
					b.Fatal(err)
				}
				if _, err := tdoc.Exec(e.Collection, e.Key, data, e.Stamp.Wall, 0, e.Stamp.Node); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		cpu.report(b, n)
		b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "entries/s")
	})
}

// fill stores n documents through ApplyRemote, in 1,000-entry batches.
func fill(b *testing.B, s *sqlite.Store, n int) {
	b.Helper()
	for i := 0; i*1000 < n; i++ {
		if _, err := s.ApplyRemote(context.Background(), domain.LastWriteWins{}, remoteBatchKeys(i, 1000)); err != nil {
			b.Fatal(err)
		}
	}
}

// remoteBatchKeys is remoteBatch with one key per entry.
func remoteBatchKeys(batch, size int) []domain.Entry {
	out := remoteBatch(batch, size)
	for j := range out {
		out[j].Key = fmt.Sprintf("u%d", batch*size+j)
	}
	return out
}

func rawFill(b *testing.B, db *sql.DB, n int) {
	b.Helper()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(rawUpsertDoc)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := st.Exec("users", fmt.Sprintf("u%d", i), string(benchDoc(i)), wall0+int64(i), 0, "B"); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkGet(b *testing.B) {
	const docs = 10_000
	b.Run("store", func(b *testing.B) {
		s := benchStore(b)
		fill(b, s, docs)
		ctx := context.Background()
		i := 0
		cpu := startCPU()
		for b.Loop() {
			if _, err := s.Get(ctx, "users", fmt.Sprintf("u%d", i%docs)); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
	})
	b.Run("raw", func(b *testing.B) {
		db := rawDB(b)
		rawFill(b, db, docs)
		st := mustPrepare(b, db, `SELECT data, wall, logic, node FROM documents WHERE collection = ? AND key = ? AND deleted = 0`)
		i := 0
		cpu := startCPU()
		for b.Loop() {
			var data, node string
			var wall, logic int64
			if err := st.QueryRow("users", fmt.Sprintf("u%d", i%docs)).Scan(&data, &wall, &logic, &node); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
	})
}

// BenchmarkFindIndexed100k: an equality Find on an indexed field over 100k
// documents (each value held by 100 documents; Take 10).
func BenchmarkFindIndexed100k(b *testing.B) {
	const docs = 100_000
	b.Run("store", func(b *testing.B) {
		s := benchStore(b)
		ctx := context.Background()
		if err := s.EnsureIndex(ctx, "users", "n"); err != nil {
			b.Fatal(err)
		}
		fill(b, s, docs)
		i := 0
		cpu := startCPU()
		for b.Loop() {
			got, err := s.Find(ctx, "users", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "n", Value: i % 1000}, Take: 10})
			if err != nil || len(got) != 10 {
				b.Fatal(err, len(got))
			}
			i++
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/find")
	})
	b.Run("raw", func(b *testing.B) {
		db := rawDB(b)
		if _, err := db.Exec(`CREATE INDEX docs_n ON documents (collection, json_extract(data, '$."n"'))`); err != nil {
			b.Fatal(err)
		}
		rawFill(b, db, docs)
		st := mustPrepare(b, db, `SELECT key, data, wall, logic, node FROM documents WHERE collection = ? AND deleted = 0
			AND json_type(data, '$."n"') IN ('integer', 'real') AND json_extract(data, '$."n"') = ? ORDER BY +key LIMIT 10`)
		i := 0
		cpu := startCPU()
		for b.Loop() {
			rows, err := st.Query("users", float64(i%1000))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var key, data, node string
				var wall, logic int64
				if err := rows.Scan(&key, &data, &wall, &logic, &node); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n != 10 {
				b.Fatal(n)
			}
			i++
		}
		cpu.report(b, b.N)
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/find")
	})
}
