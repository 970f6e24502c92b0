package client

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueryBody(t *testing.T) {
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{}, `{}`},
		{Query{Where: `{"a":1}`, Skip: 2, Take: 3, Fields: `["a"]`}, `{"filter":{"a":1},"skip":2,"limit":3,"fields":["a"]}`},
		{Query{OrderBy: "x", Desc: true}, `{"sort":{"x":-1}}`},
		{Query{OrderBy: "x", Sort: `{"y":1}`}, `{"sort":{"x":1,"y":1}}`},
		{Query{OrderBy: "x", Sort: ` { } `}, `{"sort":{"x":1}}`},
		{Query{Sort: `{"y":-1,"z":1}`}, `{"sort":{"y":-1,"z":1}}`},
	} {
		got, err := tc.q.body()
		require.NoError(t, err)
		require.Equal(t, tc.want, string(got), "sort fields keep their order")
	}
}
