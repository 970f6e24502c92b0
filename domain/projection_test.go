package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProjection(t *testing.T) {
	const doc = `{"a":1,"b":{"c":2,"d":3},"arr":[{"x":1,"y":2},5,{"y":3}],"big":9007199254740993,"h":"<&>"}`
	cases := []struct{ fields, want string }{
		{`["a","b.c"]`, `{"a":1,"b":{"c":2}}`},
		{`{"a":1,"big":true}`, `{"a":1,"big":9007199254740993}`},
		{`["arr.y","arr.x"]`, `{"arr":[{"x":1,"y":2},{"y":3}]}`},
		{`["missing","h"]`, `{"h":"<&>"}`},
		{`{"b.d":0,"arr.y":0,"a":false}`, `{"arr":[{"x":1},5,{}],"b":{"c":2},"big":9007199254740993,"h":"<&>"}`},
	}
	for _, tc := range cases {
		p, err := ParseProjection([]byte(tc.fields))
		require.NoError(t, err, tc.fields)
		got, err := p.Apply([]byte(doc))
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(got), tc.fields)
	}
	p, err := ParseProjection([]byte(` null `))
	require.NoError(t, err)
	require.Nil(t, p)
	for _, bad := range []string{`{"a":1,"b":0}`, `{"a":2}`, `[1]`, `"a"`, `["a..b"]`, `{`} {
		_, err := ParseProjection([]byte(bad))
		require.Equal(t, CodeInvalidArgument, CodeOf(err), bad)
	}
	p, _ = ParseProjection([]byte(`["a"]`))
	got, err := p.Apply([]byte(`[1,2]`))
	require.NoError(t, err)
	require.Equal(t, `[1,2]`, string(got), "non-objects pass through")
}

func TestParseSort(t *testing.T) {
	got, err := ParseSort([]byte(`{"z":1,"a.b":-1,"m":1}`))
	require.NoError(t, err)
	require.Equal(t, []Order{{Path: "z"}, {Path: "a.b", Desc: true}, {Path: "m"}}, got)
	got, err = ParseSort([]byte(` `))
	require.NoError(t, err)
	require.Nil(t, got)
	for _, bad := range []string{`[]`, `{"a":2}`, `{"a":"1"}`, `{"":1}`, `{"a":1} x`, `{"a":1`, `1`} {
		_, err := ParseSort([]byte(bad))
		require.Equal(t, CodeInvalidArgument, CodeOf(err), bad)
	}
}
