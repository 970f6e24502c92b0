package domain

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// passesJSONChecks reports, in one pass over body, whether validateJSON's
// checks after the size limit all pass: object-ness (objectOnly), valid
// UTF-8, nesting within MaxNestingDepth, JSON grammar as json.Valid reads
// it, no key twice in one object and no number beyond a double. It is the
// fast path of validateJSON: false says only that some check may fail, and
// the checks run one by one to name the first that does, so what is
// refused and how stays theirs. A snapshot's bootstrap validates every
// document it installs, and four passes over each cost most of that.
func passesJSONChecks(body []byte, objectOnly bool) bool {
	// What is open: kinds[d] is the d-th container's kind, and keys holds
	// the keys of every open object (checkKeysAndNumbers's frames).
	var kinds [MaxNestingDepth]containerKind
	var keysBuf [32][]byte
	var framesBuf [16]keyFrame
	keys, frames := keysBuf[:0], framesBuf[:0]
	depth := 0
	b := body
	i := skipJSONSpace(b, 0)
	if objectOnly && (i == len(b) || b[i] != '{') {
		return false
	}
	for {
		// A value starts at i (after space).
		i = skipJSONSpace(b, i)
		if i == len(b) {
			return false
		}
		var ok bool
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth == MaxNestingDepth {
				return false
			}
			kind := containerArray
			if c == '{' {
				kind = containerObject
				frames = append(frames, keyFrame{start: len(keys)})
			}
			kinds[depth] = kind
			depth++
			i = skipJSONSpace(b, i+1)
			if i < len(b) && (b[i] == '}' && kind == containerObject || b[i] == ']' && kind == containerArray) {
				// Empty: the container's value ends here.
				depth--
				if kind == containerObject {
					frames = frames[:len(frames)-1]
				}
				i++
				break
			}
			if kind == containerObject {
				if keys, i, ok = objectKey(b, i, keys, &frames[len(frames)-1]); !ok {
					return false
				}
			}
			continue // its first value
		case c == '"':
			if i, _, ok = scanJSONString(b, i); !ok {
				return false
			}
		case c == '-' || c >= '0' && c <= '9':
			if i, ok = scanJSONNumber(b, i); !ok {
				return false
			}
		case c == 't':
			if i, ok = scanJSONLiteral(b, i, "true"); !ok {
				return false
			}
		case c == 'f':
			if i, ok = scanJSONLiteral(b, i, "false"); !ok {
				return false
			}
		case c == 'n':
			if i, ok = scanJSONLiteral(b, i, "null"); !ok {
				return false
			}
		default:
			return false
		}
		// A value ended before i: close what it ends, then the next one.
		for {
			i = skipJSONSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i == len(b) {
				return false
			}
			kind := kinds[depth-1]
			c := b[i]
			if c == ',' {
				i++
				if kind == containerObject {
					if keys, i, ok = objectKey(b, skipJSONSpace(b, i), keys, &frames[len(frames)-1]); !ok {
						return false
					}
				}
				break
			}
			if kind == containerObject && c == '}' {
				keys = keys[:frames[len(frames)-1].start]
				frames = frames[:len(frames)-1]
			} else if kind != containerArray || c != ']' {
				return false
			}
			depth--
			i++
		}
	}
}

type containerKind uint8

const (
	containerArray containerKind = iota
	containerObject
)

// keyFrame is where the keys of one open object start in the key stack,
// and their set once the object has many (dupKey).
type keyFrame struct {
	start int
	set   map[string]struct{}
}

// objectKey reads an object's key and its colon from i, refusing a key
// the object (f, its keys on the stack keys) already has; it returns the
// stack with the key and where the value starts.
func objectKey(b []byte, i int, keys [][]byte, f *keyFrame) ([][]byte, int, bool) {
	if i == len(b) || b[i] != '"' {
		return keys, i, false
	}
	end, escaped, ok := scanJSONString(b, i)
	if !ok {
		return keys, i, false
	}
	key := b[i+1 : end-1]
	if escaped {
		// Decoded as checkKeysAndNumbers decodes it, so both see the same
		// duplicates.
		var decoded string
		if json.Unmarshal(b[i:end], &decoded) != nil {
			return keys, i, false
		}
		key = []byte(decoded)
	}
	if dupKey(keys[f.start:], &f.set, key) {
		return keys, i, false
	}
	keys = append(keys, key)
	i = skipJSONSpace(b, end)
	if i == len(b) || b[i] != ':' {
		return keys, i, false
	}
	return keys, i + 1, true
}

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON white space.
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// plainStringByte marks the bytes a JSON string holds as they are: ASCII
// but the quote, the backslash and the control characters.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanJSONString checks the string that starts at b[i] (a quote): JSON
// escapes, no control characters, valid UTF-8. It returns the index past
// its closing quote and whether it holds an escape.
func scanJSONString(b []byte, i int) (end int, escaped, ok bool) {
	j := i + 1
	for j < len(b) {
		c := b[j]
		if plainStringByte[c] {
			j++
			continue
		}
		switch {
		case c == '"':
			return j + 1, escaped, true
		case c == '\\':
			escaped = true
			if j+1 == len(b) {
				return j, escaped, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
					return j, escaped, false
				}
				j += 6
			default:
				return j, escaped, false
			}
		case c < 0x20:
			return j, escaped, false
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return j, escaped, false
			}
			j += size
		}
	}
	return j, escaped, false
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// scanJSONNumber checks the number that starts at b[i] (JSON's grammar,
// and a double's range as checkKeysAndNumbers checks it) and returns the
// index past it.
func scanJSONNumber(b []byte, i int) (int, bool) {
	start, j := i, i
	if b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		j = skipDigits(b, j)
	default:
		return j, false
	}
	if j < len(b) && b[j] == '.' {
		k := skipDigits(b, j+1)
		if k == j+1 {
			return j, false
		}
		j = k
	}
	exponent := false
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		exponent = true
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := skipDigits(b, j)
		if k == j {
			return j, false
		}
		j = k
	}
	if exponent || j-start > 15 {
		if f, err := strconv.ParseFloat(string(b[start:j]), 64); err != nil && math.IsInf(f, 0) {
			return j, false
		}
	}
	return j, true
}

func skipDigits(b []byte, j int) int {
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return j
}

// scanJSONLiteral checks that the literal lit starts at b[i] and returns
// the index past it.
func scanJSONLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
