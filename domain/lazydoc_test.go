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
	for k := range obj {
		for _, path := range []string{k, k + ".0", k + ".x", k + ".x.y", "absent-field.x"} {
			if ValidatePath(path) != nil {
				continue
			}
			for _, desc := range []bool{false, true} {
				key, err := SortKeyText(doc, path, desc)
				require.NoError(t, err, doc)
				require.Equal(t, SortKey(whole, path, desc), key, "%s in %s", path, doc)
			}
		}
	}
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
		`{"ab":-1.5e3,"cd":null,"ef":true,"gh":false,"ij":"\u0000"}`,
		`{"a":[{"x":1},{"x":[3,"s"]},{"y":2}],"a":{"x":{"y":[]}},"b":"\\\"","c\\":[[1],[]]}`,
		`{"e":"\\","f":"x\\\\","g":"\"}{]"}`} {
		checkDecodeFields(t, doc)
	}
}

func FuzzDecodeFields(f *testing.F) {
	f.Add(evalDoc)
	f.Add(`{"ab":[{"x":"]"}],"a":"\\\""}`)
	f.Fuzz(func(t *testing.T, doc string) { checkDecodeFields(t, doc) })
}
