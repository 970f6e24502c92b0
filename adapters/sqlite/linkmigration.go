package sqlite

import (
	"context"
	"database/sql"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/uptrace/bun"
)

// linkHeldChains gives the entries a file held before links existed
// (schema 4) their content links: per author in chain (stamp) order, each
// entry chains from the link of the entry before it (domain.LinkBefore):
// GenesisLink for a chain held from its start, BoundaryLink(prevHash) for
// a chain held from a pruned or snapshot boundary. A hashless entry
// (accepted from the C#/TypeScript family) cannot be linked and keeps
// NULL, and nothing chains from it: the next hashed entry restarts as if
// its predecessor's link were unknown (BoundaryLink of its PrevHash), as
// does an entry whose PrevHash is not the hash of the entry before it.
//
// The links are computed in one pass and written after it: an update
// while the select still runs on the same connection is not defined by
// SQLite. What the pass keeps is a seq and a link per entry.
func linkHeldChains(ctx context.Context, tx bun.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT seq, node, hash, prev_hash, data FROM oplog ORDER BY node, wall, logic, seq`)
	if err != nil {
		return err
	}
	var (
		seqs  []int64
		links []byte // LinkSize bytes per entry of seqs
		node  string
		prev  struct {
			hash string
			link []byte // nil: unknown
		}
	)
	for rows.Next() {
		var e domain.Entry
		var author string
		var data sql.RawBytes
		if err := rows.Scan(&e.Seq, &author, &e.Hash, &e.PrevHash, &data); err != nil {
			rows.Close()
			return err
		}
		if author != node {
			node, prev.hash, prev.link = author, "", nil
		}
		if e.Hash == "" {
			prev.hash, prev.link = "", nil
			continue
		}
		e.Data = data
		var known []byte
		if e.PrevHash == prev.hash {
			known = prev.link
		}
		link := domain.NextLink(domain.LinkBefore(e.PrevHash, known), domain.EntryDigest(&e))
		seqs = append(seqs, e.Seq)
		links = append(links, link...)
		prev.hash, prev.link = e.Hash, link
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	upd, err := tx.PrepareContext(ctx, `UPDATE oplog SET link = ? WHERE seq = ?`)
	if err != nil {
		return err
	}
	defer upd.Close()
	for i, seq := range seqs {
		if _, err := upd.ExecContext(ctx, links[i*domain.LinkSize:(i+1)*domain.LinkSize], seq); err != nil {
			return err
		}
	}
	return nil
}
