package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
)

func outboxEntries(keys ...string) []domain.Entry {
	out := make([]domain.Entry, len(keys))
	for i, k := range keys {
		out[i] = domain.Entry{Collection: "c", Key: k}
	}
	return out
}

func TestOutboxKeepsOrderAndSignals(t *testing.T) {
	o := NewOutbox(10)
	o.setOpen(true)
	o.append(outboxEntries("a", "b"))
	o.append(outboxEntries("c"))
	select {
	case <-o.readyC():
	default:
		t.Fatal("no ready signal after an append")
	}
	got, overflow := o.take()
	require.False(t, overflow)
	require.Equal(t, outboxEntries("a", "b", "c"), got)
	got, overflow = o.take()
	require.Empty(t, got)
	require.False(t, overflow)
}

func TestOutboxOverflowDropsAndReports(t *testing.T) {
	o := NewOutbox(3)
	o.setOpen(true)
	o.append(outboxEntries("a", "b"))
	o.append(outboxEntries("c", "d"))
	o.append(outboxEntries("e")) // still overflowed until taken
	got, overflow := o.take()
	require.True(t, overflow)
	require.Empty(t, got)
	o.append(outboxEntries("f"))
	got, overflow = o.take()
	require.False(t, overflow)
	require.Equal(t, outboxEntries("f"), got)
}

func TestOutboxClosedDropsAppends(t *testing.T) {
	o := NewOutbox(0)
	o.append(outboxEntries("a"))
	select {
	case <-o.readyC():
		t.Fatal("a closed outbox signalled")
	default:
	}
	got, overflow := o.take()
	require.Empty(t, got)
	require.False(t, overflow)
}

// The Database hands the outbox every local commit, in commit order, sealed;
// refused writes and remote applies are not local commits.
func TestDatabaseHandsLocalCommitsToOutboxInOrder(t *testing.T) {
	ctx := t.Context()
	store := memory.New()
	outbox := NewOutbox(0)
	outbox.setOpen(true)
	db, err := NewDatabase(store, nil, domain.NewClock("me", func() int64 { return time.Now().UnixMilli() }, testMaxDrift),
		nil, DatabaseOptions{Outbox: outbox})
	require.NoError(t, err)
	_, err = db.Put(ctx, "c", "a", []byte(`{}`), nil)
	require.NoError(t, err)
	_, err = db.Batch(ctx, "c", Batch{Puts: map[string][]byte{"b": []byte(`{}`), "c": []byte(`{}`)}})
	require.NoError(t, err)
	_, err = db.Delete(ctx, "c", "a")
	require.NoError(t, err)
	_, err = db.Delete(ctx, "c", "a") // refused: not handed on
	require.Error(t, err)
	remote := domain.Entry{Collection: "c", Key: "r", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: time.Now().UnixMilli(), Node: "nodeB"}}
	remote.Seal("")
	_, err = db.ApplyRemote(ctx, []domain.Entry{remote})
	require.NoError(t, err)

	got, overflow := outbox.take()
	require.False(t, overflow)
	require.Len(t, got, 4)
	var last int64
	for _, en := range got {
		require.Greater(t, en.Seq, last)
		last = en.Seq
		require.NotEmpty(t, en.Hash, "sealed")
		require.Equal(t, "me", en.Author())
	}
	require.Equal(t, domain.OpDelete, got[3].Op)
}
