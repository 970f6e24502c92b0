package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestCountUpToStopsAtTheLimit(t *testing.T) {
	s := openTemp(t)
	var ws []ports.Write
	for i := range 30 {
		ws = append(ws, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprintf("k%02d", i), Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"even":%t}`, i%2 == 0), Stamp: domain.Timestamp{Wall: int64(1000 + i), Node: "A"}}})
	}
	_, err := s.Commit(t.Context(), domain.LastWriteWins{}, ws...)
	require.NoError(t, err)
	even := domain.Cmp{Op: domain.OpEq, Path: "even", Value: true}
	for _, tc := range []struct {
		name   string
		filter domain.Filter
		limit  int
		want   int
	}{
		{"all, below the limit", nil, 100, 30},
		{"all, at the limit", nil, 30, 30},
		{"all, above the limit", nil, 10, 10},
		{"filtered, above the limit", even, 7, 7},
		{"filtered, below the limit", even, 20, 15},
		{"no limit", even, 0, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.CountUpTo(t.Context(), "c", tc.filter, tc.limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
		})
	}
}
