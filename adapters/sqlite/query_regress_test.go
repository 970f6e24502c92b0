package sqlite_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// Regressions of issue 18: filters that used to fail inside SQLite (500s
// leaking SQL text) or answer wrongly.

func TestQueriesThatUsedToFail(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	docs := map[string]string{
		"big2":  `{"big":9007199254740992}`,
		"big3":  `{"big":9007199254740993}`,
		"slash": `{"a\\b":1,"x\u0000y":"nul","arr":[{"k":2},{"k":9}]}`,
		"tags":  `{"tags":["a","b"],"n":5}`,
	}
	var entries []domain.Entry
	i := 0
	for k, d := range docs {
		i++
		entries = append(entries, domain.Entry{Collection: "c", Key: k, Op: domain.OpPut, Data: []byte(d),
			Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(i), Node: "R"}})
	}
	for n := range 50 {
		i++
		entries = append(entries, domain.Entry{Collection: "c", Key: fmt.Sprintf("n%02d", n), Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"n":%d}`, n), Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(i), Node: "R"}})
	}
	_, err := s.ApplyRemote(ctx, domain.LastWriteWins{}, entries)
	require.NoError(t, err)
	require.NoError(t, s.EnsureIndex(ctx, "c", "n"))

	find := func(filter string, orders ...domain.Order) []string {
		t.Helper()
		f, err := domain.ParseFilter([]byte(filter))
		require.NoError(t, err)
		got, err := s.Find(ctx, "c", domain.Query{Filter: f, Sort: orders})
		require.NoError(t, err, filter)
		n, err := s.Count(ctx, "c", f)
		require.NoError(t, err)
		require.Len(t, got, n)
		return keysOf(got)
	}
	list := func(n int, each func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = each(i)
		}
		return strings.Join(parts, ",")
	}

	// $in, $and and $or with 10,000 entries (indexed path and not).
	require.Equal(t, []string{"n05", "n07", "tags"}, find(`{"n":{"$in":[`+list(10_000, func(i int) string { return fmt.Sprint(1000 + i) })+`,7,5]}}`))
	require.Equal(t, []string{"tags"}, find(`{"tags":{"$in":[`+list(10_000, func(i int) string { return fmt.Sprintf(`"x%d"`, i) })+`,"b"]}}`))
	require.Equal(t, []string{"n01"}, find(`{"$or":[`+list(10_000, func(i int) string { return fmt.Sprintf(`{"n":%d}`, 1+i*100) })+`]}`))
	require.Equal(t, []string{"n02"}, find(`{"$and":[`+list(10_000, func(int) string { return `{"n":2}` })+`]}`))
	// Nesting up to the limit works; past it is a 400 naming the limit.
	deep := func(n int) string {
		return strings.Repeat(`{"$or":[{"n":-1},`, n) + `{"n":4}` + strings.Repeat(`]}`, n)
	}
	require.Equal(t, []string{"n04"}, find(deep(domain.MaxFilterDepth/2-1)))
	_, err = domain.ParseFilter([]byte(deep(900)))
	require.Equal(t, domain.CodeInvalidArgument, domain.CodeOf(err))
	require.Contains(t, err.Error(), fmt.Sprint(domain.MaxFilterDepth))

	// Field names with a backslash or NUL match and sort.
	require.Equal(t, []string{"slash"}, find(`{"a\\b":1}`))
	require.Equal(t, []string{"slash"}, find(`{"x\u0000y":"nul"}`))
	got, err := s.Find(ctx, "c", domain.Query{Filter: domain.Exists{Path: "n", Exists: false}, Sort: []domain.Order{{Path: `a\b`, Desc: true}}})
	require.NoError(t, err)
	require.Equal(t, []string{"slash", "big2", "big3"}, keysOf(got))

	// Integers beyond 2^53 compare exactly.
	require.Equal(t, []string{"big3"}, find(`{"big":9007199254740993}`))
	require.Equal(t, []string{"big2"}, find(`{"big":9007199254740992}`))
	require.Equal(t, []string{"big3"}, find(`{"big":{"$gt":9007199254740992}}`))

	// MongoDB semantics: arrays match by element, dotted paths go through
	// arrays of objects, positions select elements.
	require.Equal(t, []string{"tags"}, find(`{"tags":"a"}`))
	require.Equal(t, []string{"n05"}, find(`{"tags":{"$ne":"a"},"n":5}`))
	require.Equal(t, []string{"slash"}, find(`{"arr.k":9}`))
	require.Equal(t, []string{"slash"}, find(`{"arr.1.k":9}`))
	require.Equal(t, []string{"slash"}, find(`{"arr":{"$elemMatch":{"k":{"$gt":5}}}}`))
	require.Equal(t, []string{"n48", "n49"}, find(`{"n":{"$gte":48}}`))
	require.Equal(t, []string{"n48", "n49"}, find(`{"n":{"$not":{"$lt":48}},"big":{"$exists":false},"tags":{"$exists":false},"arr":null}`))
}
