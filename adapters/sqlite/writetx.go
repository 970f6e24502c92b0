package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// writeTx is one write transaction on the writer connection: the prepared
// statements bound to it (stmts.go) and every row-level operation the write
// paths combine (commit.go, applyremote.go, snapshot.go, prune.go,
// pending.go). What it changes in memory (heads, the pending set) waits in
// its fields until the transaction commits (afterCommit), so a rolled-back
// transaction leaves the state as it was. Store.write opens one.
type writeTx struct {
	ctx                                 context.Context
	tx                                  *sql.Tx
	p                                   *stmts
	getDoc, upsertDoc, insOplog, insIgn *sql.Stmt
	keyEntries, vclock                  *sql.Stmt
	setMeta                             *sql.Stmt
	maxSeqSt, seqRangeSt                *sql.Stmt
	headLinkSt                          *sql.Stmt

	// What the transaction does to the in-memory state once it commits
	// (state.go).
	st           *state
	newHeads     map[string]head
	sealed       map[string]sealedTip // author → this transaction's last local write
	maxSeq       int64
	addPending   []domain.Document
	materialized bool // the pending documents were written
	persisted    bool // the clock and the materialized mark were written
	// copiesFrom: the first seq this transaction wrote an entry with a
	// copy of its data (0: none); write drops the copies (dropCopies).
	copiesFrom int64
	// createdDocIndex: this transaction created the oplog (collection,
	// key) index; stmts.docIndexed is set once it commits.
	createdDocIndex bool
}

func (p *stmts) bind(ctx context.Context, tx *sql.Tx, st *state) *writeTx {
	return &writeTx{ctx: ctx, tx: tx, p: p, st: st}
}

// write runs fn in one immediate transaction on the writer connection and,
// once it commits, applies what it did to the in-memory state. The
// transaction first writes the pending documents into the documents table,
// which fn may read or rewrite, and last writes the heads that moved and the
// materialized mark: the replay at Open relies on every entry after the
// mark being a local commit that left its document pending (pending.go).
func (s *Store) write(ctx context.Context, op string, fn func(t *writeTx) error) error {
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	return s.writeLocked(ctx, op, fn)
}

// writeLocked is write for a caller holding wmu.
func (s *Store) writeLocked(ctx context.Context, op string, fn func(t *writeTx) error) error {
	if s.st.hasPending() {
		// Materializing takes multi-row statements, which cannot be
		// prepared once the transaction holds the only writer connection.
		if err := s.stmts.prepareRows(ctx, s.writer.DB, maxRows); err != nil {
			return mapErr(op, err)
		}
	}
	return s.runTx(ctx, op, func(t *writeTx) error {
		if err := t.materializePending(); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		if t.copiesFrom > 0 {
			if err := t.dropCopies(t.copiesFrom); err != nil {
				return err
			}
		}
		return t.persistClock()
	})
}

// writeKeepPending is write for a transaction that neither reads nor
// rewrites document rows (commitOne, EnsureIndex): the pending documents
// stay pending.
func (s *Store) writeKeepPending(ctx context.Context, op string, fn func(t *writeTx) error) error {
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	return s.runTx(ctx, op, fn)
}

// runTx runs fn in one transaction (wmu is held) and applies it to the
// in-memory state once it commits.
func (s *Store) runTx(ctx context.Context, op string, fn func(t *writeTx) error) error {
	tx, err := s.writer.DB.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	t := s.stmts.bind(ctx, tx, &s.st)
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	if t.createdDocIndex {
		s.stmts.docIndexed.Store(true)
	}
	t.afterCommit()
	return nil
}

// stmt binds lazily: most transactions use only some of the statements.
func (t *writeTx) stmt(slot **sql.Stmt, s *sql.Stmt) *sql.Stmt {
	if *slot == nil {
		*slot = t.tx.StmtContext(t.ctx, s)
	}
	return *slot
}

// loadDoc returns the stored document (tombstones included) or nil.
func (t *writeTx) loadDoc(collection, key string) (*domain.Document, error) {
	st := t.stmt(&t.getDoc, t.p.getDocW)
	var d domain.Document
	var data sql.NullString
	err := st.QueryRowContext(t.ctx, collection, key).Scan(&data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.Deleted, &d.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.Collection, d.Key = collection, key
	if data.Valid {
		d.Data = []byte(data.String)
	}
	return &d, nil
}

func (t *writeTx) upsertDocument(d *domain.Document) error {
	_, err := t.stmt(&t.upsertDoc, t.p.upsertDoc).ExecContext(t.ctx,
		d.Collection, d.Key, nullText(d.Data), d.Stamp.Wall, d.Stamp.Logical, d.Stamp.Node, boolInt(d.Deleted), d.ExpiresAt)
	return err
}

func (t *writeTx) insertEntry(e *domain.Entry, ignore bool) (inserted bool, err error) {
	st := t.stmt(&t.insOplog, t.p.insertOplog)
	if ignore {
		st = t.stmt(&t.insIgn, t.p.insertIgnore)
	}
	res, err := st.ExecContext(t.ctx, e.Collection, e.Key, int(e.Op), nullText(e.Data),
		e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node, hashArg(e.Hash), hashArg(e.PrevHash), nullBytes(e.Link), encodeProof(e.Proof), boolInt(e.Legacy), e.ExpiresAt)
	if err != nil {
		return false, err
	}
	if ignore {
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, err
		}
	}
	if e.Seq, err = res.LastInsertId(); err != nil {
		return false, err
	}
	if t.copiesFrom == 0 {
		t.copiesFrom = e.Seq
	}
	return true, nil
}

// docIndexSQL indexes the oplog by document. Only replays (resolvers other
// than last-write-wins) read the oplog by key, so the index is built by the
// first replay rather than kept up to date by every write of a node that
// never replays.
const docIndexSQL = `CREATE INDEX IF NOT EXISTS oplog_doc ON oplog (collection, key)`

func (t *writeTx) entriesForKey(collection, key string) ([]domain.Entry, error) {
	if !t.p.docIndexed.Load() && !t.createdDocIndex {
		if _, err := t.tx.ExecContext(t.ctx, docIndexSQL); err != nil {
			return nil, err
		}
		t.createdDocIndex = true
	}
	rows, err := t.stmt(&t.keyEntries, t.p.keyEntries).QueryContext(t.ctx, collection, key)
	if err != nil {
		return nil, err
	}
	return scanEntries(rows)
}

func isLWW(r domain.Resolver) bool {
	switch r.(type) {
	case domain.LastWriteWins, *domain.LastWriteWins:
		return true
	}
	return false
}

// resolve applies e on top of cur with r, replaying the key's whole history
// when the resolver asks for it. held says whether e is already in the oplog.
func (t *writeTx) resolve(r domain.Resolver, cur *domain.Document, e *domain.Entry, held bool) (domain.Document, bool, error) {
	doc, outcome := r.Resolve(cur, e)
	switch outcome {
	case domain.Changed:
		return doc, true, nil
	case domain.NeedsReplay:
		hist, err := t.entriesForKey(e.Collection, e.Key)
		if err != nil {
			return domain.Document{}, false, err
		}
		if !held {
			hist = append(hist, *e)
		}
		out := domain.Replay(r, hist)
		if out == nil || (cur != nil && sameDoc(out, cur)) {
			return domain.Document{}, false, nil
		}
		return *out, true, nil
	}
	return domain.Document{}, false, nil
}

// resolveStored resolves e against the stored document with r (resolve)
// and stores the result when it changed the document.
func (t *writeTx) resolveStored(r domain.Resolver, e *domain.Entry, held bool) (domain.Document, bool, error) {
	cur, err := t.loadDoc(e.Collection, e.Key)
	if err != nil {
		return domain.Document{}, false, err
	}
	doc, changed, err := t.resolve(r, cur, e, held)
	if err != nil || !changed {
		return doc, changed, err
	}
	return doc, true, t.upsertDocument(&doc)
}

func sameDoc(a, b *domain.Document) bool {
	return a.Stamp == b.Stamp && a.Deleted == b.Deleted && a.ExpiresAt == b.ExpiresAt && string(a.Data) == string(b.Data)
}

// rowsArgs binds r for n rows; add appends row i's arguments (called for
// 0..n-1, then n-1 again as padding).
func (t *writeTx) rowsArgs(r *rowsStmt, n int, add func(args []any, i int) []any) (*sql.Stmt, []any, error) {
	size, slot := rowsSize(n)
	if r.bySize[slot] == nil {
		return nil, nil, errors.New("multi-row statement for " + strconv.Itoa(size) + " rows not prepared")
	}
	args := make([]any, 0, size*strings.Count(r.row, "?"))
	for i := range size {
		args = add(args, min(i, n-1))
	}
	return t.tx.StmtContext(t.ctx, r.bySize[slot]), args, nil
}

// rowsQuery runs r for n rows and returns what it returns.
func (t *writeTx) rowsQuery(r *rowsStmt, n int, add func(args []any, i int) []any) (*sql.Rows, error) {
	st, args, err := t.rowsArgs(r, n, add)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// rowsExec runs r for n rows and returns how many rows it changed.
func (t *writeTx) rowsExec(r *rowsStmt, n int, add func(args []any, i int) []any) (int64, error) {
	st, args, err := t.rowsArgs(r, n, add)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(t.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// insertRows appends entries to the oplog in multi-row statements and
// returns each entry's seq, 0 for an entry the oplog already held. Entry i
// is offered seq base+1+i, base the greatest seq held, so the seqs in that
// range name the new entries; of identical entries in one call the first
// is inserted (rows go in VALUES order). An entry marked bare is written
// without its data, which its document row is to hold (upsertWinners); an
// entry that chains from the one before it in the statement, without its
// prev_hash (storedonce.go), which is written after all when that one was
// already held (its seq then names no row).
func (t *writeTx) insertRows(batch []domain.Entry, bare []bool) ([]int64, error) {
	var base int64
	if err := t.stmt(&t.maxSeqSt, t.p.maxSeq).QueryRowContext(t.ctx).Scan(&base); err != nil {
		return nil, err
	}
	seqs := make([]int64, len(batch)) // 0: already held
	for start := 0; start < len(batch); start += maxRows {
		chunk := batch[start:min(start+maxRows, len(batch))]
		first := base + 1 + int64(start)
		inserted, err := t.rowsExec(&t.p.insOplogRows, len(chunk), func(args []any, i int) []any {
			e := &chunk[i]
			// int64, not int or int32: database/sql converts other
			// integer types by reflection, per argument.
			data := nullBytes(e.Data)
			if bare[start+i] {
				data = nil
			}
			prev := hashArg(e.PrevHash)
			if chainsFromRowBefore(chunk, i) {
				prev = nil
			}
			return append(args, first+int64(i), e.Collection, e.Key, int64(e.Op), data, e.Stamp.Wall, int64(e.Stamp.Logical), e.Stamp.Node, hashArg(e.Hash), prev,
				nullBytes(e.Link), encodeProof(e.Proof), int64(boolInt(e.Legacy)), e.ExpiresAt)
		})
		if err != nil {
			return nil, err
		}
		if inserted == int64(len(chunk)) {
			for i := range chunk {
				seqs[start+i] = first + int64(i)
			}
			continue
		}
		got := seqs[start : start+len(chunk)]
		if err := t.heldSeqs(first, got); err != nil {
			return nil, err
		}
		for i := range chunk {
			if chainsFromRowBefore(chunk, i) && got[i] != 0 && got[i-1] == 0 {
				if _, err := t.tx.ExecContext(t.ctx, `UPDATE oplog SET prev_hash = ? WHERE seq = ?`, hashArg(chunk[i].PrevHash), got[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	return seqs, nil
}

// chainsFromRowBefore reports whether chunk[i] follows chunk[i-1] in its
// author's chain: its row then keeps no prev_hash.
func chainsFromRowBefore(chunk []domain.Entry, i int) bool {
	return i > 0 && chunk[i].PrevHash != "" && chunk[i].PrevHash == chunk[i-1].Hash
}

// heldSeqs sets seqs[i] to first+i where the oplog holds that seq.
func (t *writeTx) heldSeqs(first int64, seqs []int64) error {
	rows, err := t.stmt(&t.seqRangeSt, t.p.seqRange).QueryContext(t.ctx, first, first+int64(len(seqs))-1)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return err
		}
		seqs[seq-first] = seq
	}
	return rows.Err()
}

// readKeys adds the (collection, key) rows to keys and closes rows.
func readKeys(rows *sql.Rows, keys map[docKey]bool) error {
	defer rows.Close()
	for rows.Next() {
		var k docKey
		if err := rows.Scan(&k.collection, &k.key); err != nil {
			return err
		}
		keys[k] = true
	}
	return rows.Err()
}

// newestPerKey returns, for each key, the index of its newest entry, in
// order of each key's first entry.
func newestPerKey(entries []domain.Entry) []int {
	newest := make(map[docKey]int, len(entries))
	winners := make([]int, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		k := docKey{e.Collection, e.Key}
		j, ok := newest[k]
		switch {
		case !ok:
			newest[k] = len(winners)
			winners = append(winners, i)
		case e.Stamp.After(entries[winners[j]].Stamp):
			winners[j] = i
		}
	}
	return winners
}

func changedDocs(entries []domain.Entry, winners []int, changed map[docKey]bool) []domain.Document {
	var out []domain.Document
	for _, i := range winners {
		if e := &entries[i]; changed[docKey{e.Collection, e.Key}] {
			out = append(out, domain.DocumentFromEntry(e))
		}
	}
	return out
}

// bareWinners marks the entries that are their key's newest in entries
// and carry data: insertRows writes them without it (storedonce.go).
func bareWinners(entries []domain.Entry) []bool {
	bare := make([]bool, len(entries))
	for _, i := range newestPerKey(entries) {
		bare[i] = entries[i].Op == domain.OpPut && len(entries[i].Data) > 0
	}
	return bare
}

// upsertWinners resolves entries against the stored documents under
// last-write-wins: only the newest entry of each key competes, in one
// multi-row conditional upsert per maxRows keys. An entry marked bare
// (written without its data) whose document row did not take it gets its
// data back. With wantChanged it returns the documents that changed, in
// order of each key's first entry.
func (t *writeTx) upsertWinners(entries []domain.Entry, bare []bool, wantChanged bool) ([]domain.Document, error) {
	winners := newestPerKey(entries)
	changed := make(map[docKey]bool, len(winners))
	for start := 0; start < len(winners); start += maxRows {
		chunk := winners[start:min(start+maxRows, len(winners))]
		if err := t.upsertChunk(chunk, entries, changed); err != nil {
			return nil, err
		}
	}
	for _, i := range winners {
		if e := &entries[i]; bare != nil && bare[i] && !changed[docKey{e.Collection, e.Key}] {
			if _, err := t.tx.ExecContext(t.ctx, `UPDATE oplog SET data = CAST(? AS TEXT) WHERE seq = ?`, e.Data, e.Seq); err != nil {
				return nil, err
			}
		}
	}
	if !wantChanged {
		return nil, nil
	}
	return changedDocs(entries, winners, changed), nil
}

// upsertChunk upserts the documents of entries[chunk] (one per key) and
// adds the keys whose rows changed to changed. The upsert runs first
// without RETURNING (which costs SQLite a trigger program and a temporary
// table per statement) inside a savepoint; when it did not change every
// row it is undone and run again with RETURNING, to learn which.
func (t *writeTx) upsertChunk(chunk []int, entries []domain.Entry, changed map[docKey]bool) error {
	args := docArgs(func(i int) *domain.Entry { return &entries[chunk[i]] })
	if _, err := t.tx.ExecContext(t.ctx, "SAVEPOINT upsert"); err != nil {
		return err
	}
	n, err := t.rowsExec(&t.p.materializeRows, len(chunk), args)
	if err != nil {
		return err
	}
	all := n == int64(len(chunk))
	if !all {
		if _, err := t.tx.ExecContext(t.ctx, "ROLLBACK TO upsert"); err != nil {
			return err
		}
	}
	if _, err := t.tx.ExecContext(t.ctx, "RELEASE upsert"); err != nil {
		return err
	}
	if all {
		for _, i := range chunk {
			changed[docKey{entries[i].Collection, entries[i].Key}] = true
		}
		return nil
	}
	rows, err := t.rowsQuery(&t.p.upsertRows, len(chunk), args)
	if err != nil {
		return err
	}
	return readKeys(rows, changed)
}

// upsertDocs is upsertWinners for documents (one per key) when nobody asks
// what changed.
func (t *writeTx) upsertDocs(docs []domain.Entry) error {
	for start := 0; start < len(docs); start += maxRows {
		chunk := docs[start:min(start+maxRows, len(docs))]
		if _, err := t.rowsExec(&t.p.materializeRows, len(chunk), docArgs(func(i int) *domain.Entry { return &chunk[i] })); err != nil {
			return err
		}
	}
	return nil
}

// docArgs appends the document row of entry i.
func docArgs(entry func(i int) *domain.Entry) func(args []any, i int) []any {
	return func(args []any, i int) []any {
		d := domain.DocumentFromEntry(entry(i))
		return append(args, d.Collection, d.Key, nullText(d.Data), d.Stamp.Wall, int64(d.Stamp.Logical), d.Stamp.Node, int64(boolInt(d.Deleted)), d.ExpiresAt)
	}
}

// effectiveHead is the author's newest head, this transaction's first.
func (t *writeTx) effectiveHead(author string) (head, bool) {
	if h, ok := t.newHeads[author]; ok {
		return h, true
	}
	t.st.mu.RLock()
	defer t.st.mu.RUnlock()
	h, ok := t.st.heads[author]
	return h, ok
}

// seal links e into its author's chain: after the author's head, or after
// this transaction's previous write of the author (write order, whatever
// the stamps), and computes its content link from that entry's. A local
// entry carries no proof and is never legacy.
func (t *writeTx) seal(e *domain.Entry) error {
	a := e.Author()
	prev, ok := t.sealed[a]
	if !ok {
		h, _ := t.effectiveHead(a)
		link, err := t.headLink(a, h)
		if err != nil {
			return err
		}
		prev = sealedTip{hash: h.hash, link: link}
	}
	e.Seal(prev.hash)
	e.Link = domain.NextLink(domain.LinkBefore(prev.hash, prev.link), domain.EntryDigest(e))
	e.Proof, e.Legacy = nil, false
	if t.sealed == nil {
		t.sealed = map[string]sealedTip{}
	}
	t.sealed[a] = sealedTip{hash: e.Hash, link: e.Link}
	return nil
}

// sealedTip is the entry a local write chains after.
type sealedTip struct {
	hash string
	link []byte
}

// headLink is the link of author's head entry h (nil: none or not held).
// It is read from the oplog once per head and kept with the head, so a
// commit costs no extra query.
func (t *writeTx) headLink(author string, h head) ([]byte, error) {
	if h.hash == "" || h.linkKnown {
		return h.link, nil
	}
	var link []byte
	err := t.stmt(&t.headLinkSt, t.p.headLink).QueryRowContext(t.ctx, author, h.wall, h.logic, hashArg(h.hash)).Scan(&link)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	// The link of a held entry never changes, so it is kept even if this
	// transaction rolls back.
	t.st.mu.Lock()
	if cur, ok := t.st.heads[author]; ok && cur.hash == h.hash {
		cur.link, cur.linkKnown = link, true
		t.st.heads[author] = cur
	}
	t.st.mu.Unlock()
	return link, nil
}

// advanceClocks moves each author's head to its newest entry among entries
// (in the order they were stored), only ever forward: among entries with
// equal (wall, logical) the first stored stays the head. The move takes
// effect when the transaction commits.
func (t *writeTx) advanceClocks(entries []domain.Entry) {
	for i := range entries {
		e := &entries[i]
		h, ok := t.effectiveHead(e.Stamp.Node)
		if !ok || h.before(e.Stamp.Wall, e.Stamp.Logical) {
			if t.newHeads == nil {
				t.newHeads = map[string]head{}
			}
			t.newHeads[e.Stamp.Node] = head{wall: e.Stamp.Wall, logic: e.Stamp.Logical, hash: e.Hash, link: e.Link, linkKnown: true}
		}
		t.maxSeq = max(t.maxSeq, e.Seq)
	}
}

// materializePending writes the pending documents into the documents table
// (newer stamps win, so their order does not matter). write calls it first.
func (t *writeTx) materializePending() error {
	t.materialized = true
	t.st.mu.RLock()
	docs := make([]domain.Entry, 0, len(t.st.pending))
	for _, d := range t.st.pending {
		docs = append(docs, domain.EntryFromDocument(&d))
	}
	t.st.mu.RUnlock()
	if len(docs) == 0 {
		return nil
	}
	if err := t.upsertDocs(docs); err != nil {
		return err
	}
	return t.dropPendingCopies()
}

// metaMaterializedSeq is the meta key of the materialized mark (pending.go).
const metaMaterializedSeq = "materialized_seq"

// persistClock writes the heads that moved (in memory or in this
// transaction) to the vclock table and moves the materialized mark. write
// calls it last, after materializePending and the transaction's own writes.
func (t *writeTx) persistClock() error {
	t.st.mu.RLock()
	rows := map[string]head{}
	for a := range t.st.dirty {
		rows[a] = t.st.heads[a]
	}
	last := t.st.lastSeq
	t.st.mu.RUnlock()
	for a, h := range t.newHeads {
		rows[a] = h
	}
	for a, h := range rows {
		if _, err := t.stmt(&t.vclock, t.p.vclock).ExecContext(t.ctx, a, h.wall, h.logic, h.hash); err != nil {
			return err
		}
	}
	if _, err := t.stmt(&t.setMeta, t.p.setMeta).ExecContext(t.ctx, metaMaterializedSeq, strconv.FormatInt(max(last, t.maxSeq), 10)); err != nil {
		return err
	}
	t.persisted = true
	return nil
}

// afterCommit applies a committed transaction to the in-memory state (wmu
// is held).
func (t *writeTx) afterCommit() {
	st := t.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if t.materialized {
		clear(st.pending)
		st.pendingBytes = 0
	}
	if t.persisted {
		clear(st.dirty)
	}
	for a, h := range t.newHeads {
		if cur, ok := st.heads[a]; !ok || cur.before(h.wall, h.logic) {
			h.link = bytes.Clone(h.link) // a remote entry's link is the caller's
			st.heads[a] = h
			if !t.persisted {
				st.dirty[a] = true
			}
		}
	}
	for _, d := range t.addPending {
		addPendingLocked(st, d)
	}
	st.lastSeq = max(st.lastSeq, t.maxSeq)
}
