package domain

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueuePolicyAdmit(t *testing.T) {
	p := QueuePolicy{MaxSize: 2}
	require.NoError(t, p.Admit(0))
	require.NoError(t, p.Admit(1))
	err := p.Admit(2)
	require.True(t, errors.Is(err, ErrQueueFull))
	require.Equal(t, CodeQueueFull, CodeOf(p.Admit(5)))
	require.NoError(t, QueuePolicy{}.Admit(1_000_000), "MaxSize 0 is unbounded")
	require.NoError(t, QueuePolicy{MaxSize: -1}.Admit(1_000_000))
}

func TestSplitFlush(t *testing.T) {
	ops := []PendingOperation{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}}
	fail := errors.New("peer gone")
	ok, failed := SplitFlush(ops, []error{nil, fail, nil, fail})
	require.Equal(t, []PendingOperation{{ID: 1}, {ID: 3}}, ok)
	require.Equal(t, []PendingOperation{{ID: 2}, {ID: 4}}, failed, "failed operations keep their order")

	// Operations without a result did not get flushed: they stay queued.
	ok, failed = SplitFlush(ops, []error{nil})
	require.Equal(t, []PendingOperation{{ID: 1}}, ok)
	require.Equal(t, []PendingOperation{{ID: 2}, {ID: 3}, {ID: 4}}, failed)

	ok, failed = SplitFlush(nil, nil)
	require.Empty(t, ok)
	require.Empty(t, failed)
}
