package domain

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateCollection(t *testing.T) {
	for _, ok := range []string{"users", "a", "A-b_c.d9", strings.Repeat("x", MaxCollectionName)} {
		require.NoError(t, ValidateCollection(ok), ok)
	}
	for _, bad := range []string{"", "_system", "has space", "ü", "a/b", strings.Repeat("x", MaxCollectionName+1)} {
		err := ValidateCollection(bad)
		require.Error(t, err, bad)
		require.Equal(t, CodeInvalidArgument, CodeOf(err), bad)
	}
}

func TestValidateKey(t *testing.T) {
	for _, ok := range []string{"k", "ключ", "with space/and:colon", strings.Repeat("x", MaxKeyBytes)} {
		require.NoError(t, ValidateKey(ok), ok)
	}
	for _, bad := range []string{"", "\xff\xfe", strings.Repeat("x", MaxKeyBytes+1), strings.Repeat("é", 129)} {
		err := ValidateKey(bad)
		require.Error(t, err, bad)
		require.Equal(t, CodeInvalidArgument, CodeOf(err))
	}
}

func TestValidateBody(t *testing.T) {
	cases := []struct {
		name string
		body string
		max  int
		want Code // "" for valid
	}{
		{"object", `{"a":1}`, 0, ""},
		{"empty object", `{}`, 0, ""},
		{"leading whitespace", " \n\t{\"a\":[1,2]}", 0, ""},
		{"array", `[1]`, 0, CodeInvalidArgument},
		{"string", `"x"`, 0, CodeInvalidArgument},
		{"null", `null`, 0, CodeInvalidArgument},
		{"empty", ``, 0, CodeInvalidArgument},
		{"truncated", `{"a":`, 0, CodeInvalidArgument},
		{"trailing garbage", `{"a":1} x`, 0, CodeInvalidArgument},
		{"at the limit", `{"a":"xx"}`, 10, ""},
		{"over the limit", `{"a":"xxx"}`, 10, CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CodeOf(ValidateBody([]byte(tc.body), tc.max)))
		})
	}
	big := `{"a":"` + strings.Repeat("x", DefaultMaxDocumentBytes) + `"}`
	require.Equal(t, CodeTooLarge, CodeOf(ValidateBody([]byte(big), 0)), "0 means the default limit")
}

func TestValidateWrite(t *testing.T) {
	require.NoError(t, ValidateWrite("c", "k", OpPut, []byte(`{}`), 0))
	require.NoError(t, ValidateWrite("c", "k", OpDelete, nil, 0), "a delete has no body")
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateWrite("_c", "k", OpPut, []byte(`{}`), 0)))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateWrite("c", "", OpDelete, nil, 0)))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateWrite("c", "k", OpPut, []byte(`[]`), 0)))
}

func TestDocumentVersion(t *testing.T) {
	d := Document{Stamp: Timestamp{Wall: 12, Logical: 3, Node: "n:1"}}
	require.Equal(t, "12:3:n:1", d.Version())
}
