package sqlite

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/uptrace/bun"
)

type queueRow struct {
	bun.BaseModel `bun:"table:queue"`

	ID         int64   `bun:"id,pk,autoincrement"`
	Op         int     `bun:"op"`
	Collection string  `bun:"collection"`
	Key        string  `bun:"key"`
	Data       *string `bun:"data"`
	Wall       int64   `bun:"wall"`
	Logic      int32   `bun:"logic"`
	Node       string  `bun:"node"`
	QueuedAt   int64   `bun:"queued_at"`
}

// Enqueue appends op unless the queue already holds max (QUEUE_FULL then,
// and nothing changes). The count and the insert share one transaction.
func (s *Store) Enqueue(ctx context.Context, p domain.PendingOperation, max int) (domain.PendingOperation, error) {
	const op = "sqlite.Enqueue"
	err := s.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*queueRow)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		if err := (domain.QueuePolicy{MaxSize: max}).Admit(int(n)); err != nil {
			return err
		}
		row := &queueRow{Op: int(p.Op), Collection: p.Collection, Key: p.Key, Wall: p.Stamp.Wall,
			Logic: p.Stamp.Logical, Node: p.Stamp.Node, QueuedAt: p.QueuedAt}
		if len(p.Data) > 0 {
			d := string(p.Data)
			row.Data = &d
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		p.ID = row.ID
		return nil
	})
	if err != nil {
		return domain.PendingOperation{}, mapErr(op, err)
	}
	return p, nil
}

// Peek returns up to n of the oldest operations, in order.
func (s *Store) Peek(ctx context.Context, n int) ([]domain.PendingOperation, error) {
	var rows []queueRow
	q := s.reader.NewSelect().Model(&rows).Order("id")
	if n > 0 {
		q = q.Limit(int64(n))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, mapErr("sqlite.Peek", err)
	}
	out := make([]domain.PendingOperation, len(rows))
	for i, r := range rows {
		out[i] = domain.PendingOperation{ID: r.ID, Op: domain.Op(r.Op), Collection: r.Collection, Key: r.Key,
			Stamp: domain.Timestamp{Wall: r.Wall, Logical: r.Logic, Node: r.Node}, QueuedAt: r.QueuedAt}
		if r.Data != nil {
			out[i].Data = []byte(*r.Data)
		}
	}
	return out, nil
}

// Ack removes the operations with these ids (unknown ids are ignored).
func (s *Store) Ack(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.writer.NewDelete().Model((*queueRow)(nil)).Where("id IN (?)", bun.List(ids)).Exec(ctx)
	return mapErr("sqlite.Ack", err)
}

// QueueLen is the number of queued operations.
func (s *Store) QueueLen(ctx context.Context) (int, error) {
	n, err := s.reader.NewSelect().Model((*queueRow)(nil)).Count(ctx)
	return int(n), mapErr("sqlite.QueueLen", err)
}

// ClearQueue drops every queued operation.
func (s *Store) ClearQueue(ctx context.Context) error {
	_, err := s.writer.NewDelete().Model((*queueRow)(nil)).Where("1 = 1").Exec(ctx)
	return mapErr("sqlite.ClearQueue", err)
}
