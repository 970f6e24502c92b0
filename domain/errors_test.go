package domain

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorIsSentinelThroughWrapping(t *testing.T) {
	base := &Error{Code: CodeNotFound, Op: "sqlite.Get", Msg: "document c/k not found"}
	wrapped := fmt.Errorf("collection.Get: %w", base)
	twice := Wrap(CodePersistence, "app.Get", wrapped)

	for _, err := range []error{base, wrapped, twice} {
		require.True(t, errors.Is(err, ErrNotFound), err.Error())
		require.False(t, errors.Is(err, ErrPersistence), err.Error())
		require.Equal(t, CodeNotFound, CodeOf(err), "Wrap keeps an existing code")
		var de *Error
		require.True(t, errors.As(err, &de))
	}
	// A sentinel is not "Is" an error that carries details: matching goes
	// from the detailed error to the bare sentinel only.
	require.False(t, errors.Is(ErrNotFound, base))
	require.True(t, errors.Is(ErrNotFound, ErrNotFound))
}

func TestErrorfWrapsCause(t *testing.T) {
	err := Errorf(CodeSync, "sync.Pull", "reading page from %s: %w", "peer-1", io.ErrUnexpectedEOF)
	require.Equal(t, "sync.Pull: SYNC_ERROR: reading page from peer-1: unexpected EOF", err.Error())
	require.True(t, errors.Is(err, io.ErrUnexpectedEOF))
	require.True(t, errors.Is(err, ErrSync))
	require.Equal(t, CodeSync, CodeOf(err))
	require.Equal(t, "reading page from peer-1: unexpected EOF", Message(err))

	plain := Errorf(CodeConfig, "", "bad port %d", 70000)
	require.Equal(t, "CONFIG_ERROR: bad port 70000", plain.Error())
	require.Nil(t, errors.Unwrap(plain))
}

func TestWrap(t *testing.T) {
	require.Nil(t, Wrap(CodeNetwork, "op", nil))
	err := Wrap(CodeNetwork, "tcp.Dial", io.EOF)
	require.Equal(t, CodeNetwork, CodeOf(err))
	require.True(t, errors.Is(err, io.EOF))
	require.True(t, errors.Is(err, ErrNetwork))
	require.Equal(t, "tcp.Dial: NETWORK_ERROR: EOF", err.Error())
	require.Equal(t, "EOF", Message(err))
}

func TestCodeOf(t *testing.T) {
	require.Equal(t, Code(""), CodeOf(nil))
	require.Equal(t, CodeInternal, CodeOf(io.EOF))
	require.Equal(t, CodeTimeout, CodeOf(ErrTimeout))
	// The outermost code wins.
	outer := &Error{Code: CodeSync, Err: &Error{Code: CodeCorruption}}
	require.Equal(t, CodeSync, CodeOf(outer))
	require.True(t, errors.Is(outer, ErrCorruption))
}

func TestMessage(t *testing.T) {
	require.Equal(t, "boom", Message(errors.New("boom")))
	require.Equal(t, string(CodeQueueFull), Message(ErrQueueFull))
	inner := Errorf(CodeNotFound, "sqlite.Get", "document %q not found", "k")
	require.Equal(t, `document "k" not found`, Message(Wrap(CodeInternal, "http.Get", inner)))
	require.Equal(t, `document "k" not found`, Message(fmt.Errorf("ctx: %w", inner)))
}

func TestErrorSaysEachCodeOnce(t *testing.T) {
	inner := Errorf(CodeNotFound, "sqlite.Commit", "document %q not found", "k")
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"wrap of the same code", Wrap(CodeNotFound, "database.Delete", inner),
			`database.Delete: sqlite.Commit: NOT_FOUND: document "k" not found`},
		{"wrap keeps the inner code", Wrap(CodePersistence, "database.Delete", inner),
			`database.Delete: sqlite.Commit: NOT_FOUND: document "k" not found`},
		{"through a fmt wrapper", Wrap(CodeNotFound, "app.Get", fmt.Errorf("collection.Get: %w", inner)),
			`app.Get: collection.Get: sqlite.Commit: NOT_FOUND: document "k" not found`},
		{"Errorf around the same code", Errorf(CodeNotFound, "queue.Flush", "entry of op 7: %w", inner),
			`queue.Flush: entry of op 7: sqlite.Commit: NOT_FOUND: document "k" not found`},
		{"a different code is said too", Errorf(CodeSync, "sync.Pull", "applying page: %w", inner),
			`sync.Pull: SYNC_ERROR: applying page: sqlite.Commit: NOT_FOUND: document "k" not found`},
		{"three levels", Wrap(CodeQueueFull, "http.Put", Wrap(CodeQueueFull, "queue.Enqueue",
			Errorf(CodeQueueFull, "sqlite.Enqueue", "offline queue is full (%d operations)", 1000))),
			"http.Put: queue.Enqueue: sqlite.Enqueue: QUEUE_FULL: offline queue is full (1000 operations)"},
		{"bare sentinel", ErrQueueFull, "QUEUE_FULL"},
		{"joined causes", &Error{Code: CodeSync, Op: "round", Err: errors.Join(io.EOF, Wrap(CodeSync, "pull", io.ErrUnexpectedEOF))},
			"round: EOF\npull: SYNC_ERROR: unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.err.Error())
		})
	}
}
