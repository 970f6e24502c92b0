package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeFields must give each wanted field exactly as the whole decode does.
func checkDecodeFields(t *testing.T, doc string) {
	whole, werr := DecodeJSON([]byte(doc))
	obj, isObj := whole.(map[string]any)
	if werr != nil || !isObj {
		return
	}
	want := map[string]struct{}{}
	for k := range obj {
		if len(k)%2 == 0 {
			want[k] = struct{}{}
		}
	}
	want["absent-field"] = struct{}{}
	got, err := decodeFields(doc, want)
	require.NoError(t, err, doc)
	for k := range want {
		v, ok := obj[k]
		g, gok := got.(map[string]any)[k]
		require.Equal(t, ok, gok, "%s in %s", k, doc)
		require.Equal(t, v, g, "%s in %s", k, doc)
	}
}

func TestDecodeFieldsAgreesWithDecode(t *testing.T) {
	for _, doc := range []string{evalDoc, `{}`, ` { "a" : 1 , "bb":[1,{"x":"}]"}], "c\"d":"e\\"f", "\u00e9e":{"k":[]}} `, `[1]`, `"x"`,
		`{"ab":-1.5e3,"cd":null,"ef":true,"gh":false,"ij":"\u0000"}`} {
		checkDecodeFields(t, doc)
	}
}

func FuzzDecodeFields(f *testing.F) {
	f.Add(evalDoc)
	f.Add(`{"ab":[{"x":"]"}],"a":"\\\""}`)
	f.Fuzz(func(t *testing.T, doc string) { checkDecodeFields(t, doc) })
}
