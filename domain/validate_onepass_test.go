package domain

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// onePassCases are texts at the edges of each check passesJSONChecks folds
// into one pass; they seed the fuzz target too.
var onePassCases = []string{
	``, ` `, `{}`, `[]`, ` {"a":1} `, "\t{\r\n}\n", `{"a":1}x`, `{}{}`, `{`, `}`, `{"a"}`, `{"a":}`,
	`{"a" 1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,"a":1}`, `{"a":1 "b":2}`, `{1:2}`, `[1 2]`,
	`"s"`, `1`, `-0`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `1E5`, `1e-400`, `1e400`, `-1e400`, `1e308`,
	`1234567890123456`, `12345678901234567890`, `[1e400]`, `{"n":-1.5e-3}`, `0.1e1`,
	`true`, `false`, `null`, `tru`, `nul`, `fals`, `[true,false,null]`, `[truex]`, `nulll`,
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"\ud800":1,"\udc00":2}`, `{"a":{"a":1},"b":{"a":1}}`,
	`{"a":[{"b":1},{"b":1}]}`, `{"\"":1,"\\":2,"\/":3,"\b\f\n\r\t":4}`, `{"\x":1}`, `{"\u12":1}`,
	`{"\uZZZZ":1}`, `{"\u00e9":1,"é":2}`, `{"a\u0000":1}`,
	"{\"a\":\"\x01\"}", "{\"a\":\"\t\"}", "{\"a\":\"\xff\"}", "{\"\xff\":1}", "{\"a\":\"\xc0\xaf\"}",
	"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xef\xbf\xbd\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"日本\"}",
	"\xef\xbb\xbf{}", "{}\x00", "{\"a\":1}\xff", `{"a":"]}"}`, `{"a":"\\"}`, `{"a":"\\\"}`, `{"a":"`,
	`{"a":[[]]}`, `[[[[]]]]`, `{"a":{}}`, `{"a":{"b":{"c":[1,{"d":null}]}}}`,
}

// deep nests n containers, alternating objects and arrays, in an object
// when asObject.
func deep(n int, asObject bool) string {
	var open, shut strings.Builder
	for i := 0; i < n; i++ {
		if (i%2 == 0) == asObject {
			open.WriteString(`{"k":`)
			shut.WriteString(`}`)
		} else {
			open.WriteString(`[`)
			shut.WriteString(`]`)
		}
	}
	s := shut.String()
	r := []byte(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return open.String() + "1" + string(r)
}

func manyKeys(n int, dupAt int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		k := i
		if i == dupAt {
			k = 0
		}
		fmt.Fprintf(&b, `"k%d":%d`, k, i)
	}
	b.WriteString("}")
	return b.String()
}

// requireOnePassAgrees requires passesJSONChecks to pass text exactly when
// the checks one by one pass it, for objects only and for any value.
func requireOnePassAgrees(t testing.TB, text []byte) {
	t.Helper()
	for _, objectOnly := range []bool{true, false} {
		steps := jsonCheckSteps("op", text, objectOnly)
		require.Equal(t, steps == nil, passesJSONChecks(text, objectOnly),
			"objectOnly %v, %q: one by one %v", objectOnly, text, steps)
	}
}

func TestPassesJSONChecksMatchesChecksOneByOne(t *testing.T) {
	texts := append([]string{}, onePassCases...)
	for _, n := range []int{MaxNestingDepth - 1, MaxNestingDepth, MaxNestingDepth + 1, 3 * MaxNestingDepth} {
		texts = append(texts, deep(n, true), deep(n, false))
	}
	texts = append(texts, manyKeys(15, -1), manyKeys(40, -1), manyKeys(17, 16), manyKeys(40, 33), manyKeys(16, 15))
	for _, text := range texts {
		requireOnePassAgrees(t, []byte(text))
	}
}

// TestPassesJSONChecksOnRandomTexts runs the comparison on texts put
// together at random from JSON's pieces and a few that break it, so every
// run covers more than the table without the fuzzing engine.
func TestPassesJSONChecksOnRandomTexts(t *testing.T) {
	pieces := []string{`{`, `}`, `[`, `]`, `,`, `:`, `"a"`, `"b"`, `"\u0061"`, `1`, `-2.5e3`, `1e999`, `true`, `null`,
		` `, "\n", `"x\"y"`, "\"\xff\"", `0`, `01`, `"`, `\`, "\x00"}
	rnd := rand.New(rand.NewPCG(19, 2))
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		// Mostly well-formed: an object of random members.
		if rnd.IntN(4) > 0 {
			b.WriteString(randomValue(rnd, 0, true))
			if rnd.IntN(8) == 0 { // then a piece that may break it
				text := []byte(b.String())
				at := rnd.IntN(len(text) + 1)
				p := pieces[rnd.IntN(len(pieces))]
				text = append(text[:at:at], append([]byte(p), text[at:]...)...)
				requireOnePassAgrees(t, text)
				continue
			}
		} else {
			for k := rnd.IntN(12); k >= 0; k-- {
				b.WriteString(pieces[rnd.IntN(len(pieces))])
			}
		}
		requireOnePassAgrees(t, []byte(b.String()))
	}
}

func randomValue(rnd *rand.Rand, depth int, object bool) string {
	if !object {
		switch rnd.IntN(8) {
		case 0:
			object = true
		case 1:
			return "[" + randomValue(rnd, depth+1, false) + "," + randomValue(rnd, depth+1, false) + "]"
		case 2:
			return fmt.Sprint(rnd.NormFloat64() * 1e6)
		case 3:
			return `"` + []string{"a", "é", `\n`, `\u00e9`, "日"}[rnd.IntN(5)] + `"`
		case 4:
			return []string{"true", "false", "null", "[]", "{}"}[rnd.IntN(5)]
		default:
			return fmt.Sprint(rnd.IntN(1000))
		}
	}
	if depth > 4 {
		return "{}"
	}
	var b strings.Builder
	b.WriteString("{")
	for k := rnd.IntN(5); k >= 0; k-- {
		if b.Len() > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"%c":%s`, 'a'+rnd.IntN(6), randomValue(rnd, depth+1, false))
	}
	b.WriteString("}")
	return b.String()
}

// FuzzPassesJSONChecks compares the one-pass check with the checks one by
// one on any text.
func FuzzPassesJSONChecks(f *testing.F) {
	for _, c := range onePassCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(deep(MaxNestingDepth+1, true)))
	f.Add([]byte(manyKeys(20, 18)))
	f.Fuzz(func(t *testing.T, text []byte) {
		requireOnePassAgrees(t, text)
	})
}

func TestValidateBodyKeepsEachCheckError(t *testing.T) {
	// The first failing check names the fault, as before the one pass.
	cases := map[string]string{
		"[1]":                               "must be a JSON object",
		"{\"a\":\"\xff\"":                   "not valid UTF-8",
		deep(MaxNestingDepth+1, true) + "x": "deeper than",
		`{"a":1,}`:                          "not valid JSON",
		`{"a":1,"a":2}`:                     "twice",
		`{"n":1e400}`:                       "does not fit a double",
	}
	for text, want := range cases {
		err := ValidateBody([]byte(text), 0)
		require.Error(t, err, text)
		require.Equal(t, CodeInvalidArgument, CodeOf(err), text)
		require.Contains(t, err.Error(), want, text)
	}
	require.Equal(t, CodeTooLarge, CodeOf(ValidateBody([]byte(`{"a":"`+strings.Repeat("x", 100)+`"}`), 50)))
}

// BenchmarkJSONCheckSteps times the checks one by one on the document
// BenchmarkValidateBody checks in one pass, for the ratio.
func BenchmarkJSONCheckSteps(b *testing.B) {
	doc := []byte(`{"name":"user-1","age":2,"email":"u3@example.com","tags":["a","b","c"],"address":{"street":"Main St","city":"Springfield","zip":"12345"},"pad":"` +
		strings.Repeat("0", 300) + `","items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := jsonCheckSteps("op", doc, true); err != nil {
			b.Fatal(err)
		}
	}
}
