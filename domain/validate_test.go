package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

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
		{"invalid UTF-8 in a string", "{\"a\":\"\xff\xfe\"}", 0, CodeInvalidArgument},
		{"invalid UTF-8 in a member name", "{\"\xc3\":1}", 0, CodeInvalidArgument},
		{"escaped code points", `{"a":"\u00e9\ud83d\ude00"}`, 0, ""},
		{"nested to the limit", nested(MaxNestingDepth), 0, ""},
		{"nested past the limit", nested(MaxNestingDepth + 1), 0, CodeInvalidArgument},
		{"nested 2000 levels", nested(2000), 0, CodeInvalidArgument},
		{"brackets inside strings do not nest", `{"a":"` + strings.Repeat("[{", 200) + `\"["}`, 0, ""},
		{"duplicate key", `{"a":1,"b":2,"a":3}`, 0, CodeInvalidArgument},
		{"duplicate key spelled with an escape", `{"a":1,"\u0061":2}`, 0, CodeInvalidArgument},
		{"duplicate key in a nested object", `{"x":[{"k":1},{"k":2,"k":3}]}`, 0, CodeInvalidArgument},
		{"same key in sibling objects", `{"x":[{"k":1},{"k":2}],"y":{"k":{"k":1}},"k":0}`, 0, ""},
		{"key text as a value", `{"a":"a","b":["a","a"]}`, 0, ""},
		{"number beyond a double", `{"a":1e400}`, 0, CodeInvalidArgument},
		{"negative number beyond a double", `{"a":[-2e308]}`, 0, CodeInvalidArgument},
		{"long integer beyond a double", `{"a":1` + strings.Repeat("0", 400) + `}`, 0, CodeInvalidArgument},
		{"tiny number rounds to zero", `{"a":1e-400}`, 0, ""},
		{"largest double", `{"a":1.7976931348623157e308,"b":-12345678901234567890123}`, 0, ""},
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

// nested is a JSON object nested depth levels deep ({"a":[...]} alternating).
func nested(depth int) string {
	var open, closing strings.Builder
	for i := range depth {
		if i%2 == 0 {
			open.WriteString(`{"a":`)
			closing.WriteString(`}`)
		} else {
			open.WriteString(`[`)
			closing.WriteString(`]`)
		}
	}
	c := []byte(closing.String())
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
	return open.String() + "1" + string(c)
}

func TestValidateNodeID(t *testing.T) {
	for _, ok := range []string{"n", "node-1:5000", "узел", strings.Repeat("x", MaxNodeIDBytes)} {
		require.NoError(t, ValidateNodeID(ok), ok)
	}
	for _, bad := range []string{"", "n\xff", strings.Repeat("x", MaxNodeIDBytes+1), strings.Repeat("x", 1<<20)} {
		err := ValidateNodeID(bad)
		require.Equal(t, CodeInvalidArgument, CodeOf(err))
		require.Less(t, len(err.Error()), 200, "the message does not carry the id")
	}
}

func TestValidateEntry(t *testing.T) {
	sealed := func(mod func(e *Entry)) *Entry {
		e := &Entry{Collection: "c", Key: "k", Op: OpPut, Data: []byte(`{"a":1}`), Stamp: Timestamp{Wall: 1, Node: "n"}}
		mod(e)
		e.Seal(e.PrevHash)
		return e
	}
	prev := ComputeHash("c", "k0", OpPut, Timestamp{Wall: 1, Node: "n"}, "")
	cases := []struct {
		name string
		e    *Entry
		lim  EntryLimits
		want Code // "" for valid
	}{
		{"put", sealed(func(*Entry) {}), EntryLimits{}, ""},
		{"chained put", sealed(func(e *Entry) { e.PrevHash = prev }), EntryLimits{}, ""},
		{"hashless (v4) put", &Entry{Collection: "c", Key: "k", Data: []byte(`{}`), Stamp: Timestamp{Node: "n"}}, EntryLimits{}, ""},
		{"delete", sealed(func(e *Entry) { e.Op, e.Data = OpDelete, nil }), EntryLimits{}, ""},
		{"any JSON value from a family node", sealed(func(e *Entry) { e.Data = []byte(`[1,"x"]`) }), EntryLimits{}, ""},
		{"reserved collection", sealed(func(e *Entry) { e.Collection = "_system" }), EntryLimits{}, CodeInvalidArgument},
		{"path as collection", sealed(func(e *Entry) { e.Collection = "../../etc/passwd" }), EntryLimits{}, CodeInvalidArgument},
		{"long collection", sealed(func(e *Entry) { e.Collection = strings.Repeat("c", 100<<10) }), EntryLimits{}, CodeInvalidArgument},
		{"long key", sealed(func(e *Entry) { e.Key = strings.Repeat("k", 1<<20) }), EntryLimits{}, CodeInvalidArgument},
		{"key not UTF-8", sealed(func(e *Entry) { e.Key = "k\xff" }), EntryLimits{}, CodeInvalidArgument},
		{"no author", sealed(func(e *Entry) { e.Stamp.Node = "" }), EntryLimits{}, CodeInvalidArgument},
		{"long author", sealed(func(e *Entry) { e.Stamp.Node = strings.Repeat("n", 1<<20) }), EntryLimits{}, CodeInvalidArgument},
		{"document over the default limit", sealed(func(e *Entry) {
			e.Data = []byte(`{"a":"` + strings.Repeat("x", DefaultMaxDocumentBytes) + `"}`)
		}), EntryLimits{}, CodeTooLarge},
		{"document over a configured limit", sealed(func(*Entry) {}), EntryLimits{MaxDocumentBytes: 4}, CodeTooLarge},
		{"document not UTF-8", sealed(func(e *Entry) { e.Data = []byte("\"\xff\"") }), EntryLimits{}, CodeInvalidArgument},
		{"document nested too deep", sealed(func(e *Entry) { e.Data = []byte(nested(2000)) }), EntryLimits{}, CodeInvalidArgument},
		{"document not JSON", sealed(func(e *Entry) { e.Data = []byte(`{"a":`) }), EntryLimits{}, CodeInvalidArgument},
		{"document with a duplicate key", sealed(func(e *Entry) { e.Data = []byte(`[{"a":1,"a":2}]`) }), EntryLimits{}, CodeInvalidArgument},
		{"document with a number beyond a double", sealed(func(e *Entry) { e.Data = []byte(`1e400`) }), EntryLimits{}, CodeInvalidArgument},
		{"put without a document", sealed(func(e *Entry) { e.Data = nil }), EntryLimits{}, CodeInvalidArgument},
		{"delete with a huge document", sealed(func(e *Entry) {
			e.Op, e.Data = OpDelete, []byte(`"`+strings.Repeat("x", DefaultMaxDocumentBytes)+`"`)
		}), EntryLimits{}, CodeTooLarge},
		{"malformed previous hash", &Entry{Collection: "c", Key: "k", Data: []byte(`{}`), Stamp: Timestamp{Node: "n"},
			PrevHash: strings.Repeat("p", 1<<20)}, EntryLimits{}, CodeInvalidArgument},
		{"upper-case hash", &Entry{Collection: "c", Key: "k", Data: []byte(`{}`), Stamp: Timestamp{Node: "n"},
			Hash: strings.ToUpper(prev)}, EntryLimits{}, CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateEntry(tc.e, tc.lim)
			require.Equal(t, tc.want, CodeOf(err), "%v", err)
			if err != nil {
				require.Less(t, len(err.Error()), 300, "the message does not carry the oversized field")
			}
		})
	}
}

// refDepth is how deeply valid JSON nests, counted by encoding/json's
// tokenizer.
func refDepth(t testing.TB, data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // valid JSON may hold numbers beyond a double (1E700)
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return deepest
		}
		require.NoError(t, err)
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// requireNestingAgrees checks NestingExceeds against the reference depth
// at the limits around it.
func requireNestingAgrees(t testing.TB, data []byte) {
	d := refDepth(t, data)
	require.False(t, NestingExceeds(data, d), "depth %d: %s", d, data)
	if d > 0 {
		require.True(t, NestingExceeds(data, d-1), "depth %d: %s", d, data)
	}
}

// randomJSON writes a random JSON value nesting at most depth levels,
// with strings full of brackets, quotes and backslashes.
func randomJSON(rng *rand.Rand, b *bytes.Buffer, depth int) {
	const runes = `[]{}"\ aé:,`
	str := func() {
		var s []rune
		for range rng.IntN(6) {
			s = append(s, []rune(runes)[rng.IntN(utf8.RuneCountInString(runes))])
		}
		q, _ := json.Marshal(string(s))
		b.Write(q)
	}
	switch k := rng.IntN(6); {
	case depth == 0 || k == 0:
		str()
	case k == 1:
		b.WriteString(" 12.5e3 ")
	case k%2 == 0:
		b.WriteString("{")
		for i := range rng.IntN(4) {
			if i > 0 {
				b.WriteString(", ")
			}
			str()
			b.WriteString(":")
			randomJSON(rng, b, depth-1)
		}
		b.WriteString("}")
	default:
		b.WriteString("[")
		for i := range rng.IntN(4) {
			if i > 0 {
				b.WriteString(",")
			}
			randomJSON(rng, b, depth-1)
		}
		b.WriteString("]")
	}
}

// Property: on random JSON, the scan counts nesting as the tokenizer does.
func TestNestingExceedsMatchesTokenizer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b bytes.Buffer
		randomJSON(rng, &b, rng.IntN(12))
		require.True(t, json.Valid(b.Bytes()), "%s", b.Bytes())
		requireNestingAgrees(t, b.Bytes())
	}
	requireNestingAgrees(t, []byte(nested(3000)))
}

func FuzzNestingExceeds(f *testing.F) {
	for _, s := range []string{`{}`, `[[]]`, `{"a":"[{\"]"}`, `"\\"`, nested(5), `[1,[2,[3,{"]":"}"}]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		limit := len(data) % 8
		_ = NestingExceeds(data, limit) // any text: the scan ends
		if json.Valid(data) {
			requireNestingAgrees(t, data)
		}
	})
}

// The fuzzed entry: whatever ValidateEntry accepts can be sent (all UTF-8)
// and stored and queried (within the limits), and whatever a local write
// accepts a peer accepts too.
func FuzzValidateEntry(f *testing.F) {
	f.Add("c", "k", "n", false, []byte(`{"a":1}`), "")
	f.Add("_c", "k", "n", false, []byte(`{}`), "")
	f.Add("c", "k\xff", "n", false, []byte(`{}`), "")
	f.Add("c", "k", "", true, []byte(nil), "")
	f.Add("c", "k", "n", false, []byte("{\"a\":\"\xff\"}"), "")
	f.Add("c", "k", "n", false, []byte(nested(MaxNestingDepth+1)), "")
	f.Add("c", "k", "n", false, []byte(`[1,2]`), strings.Repeat("a", 64))
	const limit = 256
	f.Fuzz(func(t *testing.T, collection, key, node string, del bool, data []byte, prevHash string) {
		e := Entry{Collection: collection, Key: key, Data: data, Stamp: Timestamp{Wall: 1, Node: node}, PrevHash: prevHash}
		if del {
			e.Op = OpDelete
		}
		err := ValidateEntry(&e, EntryLimits{MaxDocumentBytes: limit})
		if !del {
			if werr := ValidateWrite(collection, key, OpPut, data, limit); werr == nil && ValidateNodeID(node) == nil &&
				isHashOrEmpty(prevHash) {
				require.NoError(t, err, "a peer refuses what a local write accepts")
			}
		}
		if err != nil {
			require.Contains(t, []Code{CodeInvalidArgument, CodeTooLarge}, CodeOf(err), "%v", err)
			return
		}
		require.NoError(t, ValidateCollection(collection))
		require.NoError(t, ValidateKey(key))
		require.NoError(t, ValidateNodeID(node))
		require.True(t, utf8.Valid(data) && utf8.ValidString(prevHash))
		require.LessOrEqual(t, len(data), limit)
		if len(data) > 0 || !del {
			require.True(t, json.Valid(data))
			require.LessOrEqual(t, refDepth(t, data), MaxNestingDepth)
		}
	})
}

func TestValidateDocument(t *testing.T) {
	d := Document{Collection: "c", Key: "k", Data: []byte(`[1]`), Stamp: Timestamp{Wall: 1, Node: "n"}}
	require.NoError(t, ValidateDocument(&d, EntryLimits{}), "any JSON value, as from a family node")
	tomb := Document{Collection: "c", Key: "k", Stamp: Timestamp{Wall: 1, Node: "n"}, Deleted: true}
	require.NoError(t, ValidateDocument(&tomb, EntryLimits{}), "a tombstone has no body")
	d.Collection = "_system"
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateDocument(&d, EntryLimits{})))
	d.Collection, d.Data = "c", []byte(nested(MaxNestingDepth+1))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateDocument(&d, EntryLimits{})))
}

func TestIsChainHash(t *testing.T) {
	h := ComputeHash("c", "k", OpPut, Timestamp{Wall: 1, Node: "n"}, "")
	require.True(t, IsChainHash(h))
	for _, bad := range []string{"", h[:63], h + "0", strings.ToUpper(h), strings.Repeat("g", 64)} {
		require.False(t, IsChainHash(bad), bad)
	}
}

// Objects past the size where duplicate keys are tracked in a set: a
// duplicate is still found, in the outer and in a nested object, and a
// large object without one passes.
func TestValidateBodyDuplicateKeysInLargeObjects(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{`)
	for i := range 100 {
		fmt.Fprintf(&sb, `"k%d":%d,`, i, i)
	}
	distinct := sb.String() + `"inner":{"a":1,"b":2}}`
	require.NoError(t, ValidateBody([]byte(distinct), 0))
	dupOuter := sb.String() + `"k57":1}`
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateBody([]byte(dupOuter), 0)))
	dupEscaped := sb.String() + `"k\u0035\u0037":1}`
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateBody([]byte(dupEscaped), 0)))
	dupInner := sb.String() + `"inner":{` + strings.Repeat(`"x":1,`, 1) + strings.TrimSuffix(strings.TrimPrefix(sb.String(), `{`), `,`) + `,"x":2}}`
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateBody([]byte(dupInner), 0)))
}

func BenchmarkValidateBody(b *testing.B) {
	doc := []byte(`{"name":"user-1","age":2,"email":"u3@example.com","tags":["a","b","c"],"address":{"street":"Main St","city":"Springfield","zip":"12345"},"pad":"` +
		strings.Repeat("0", 300) + `","items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateBody(doc, 0); err != nil {
			b.Fatal(err)
		}
	}
}
