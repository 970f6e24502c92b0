package domain

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// Limits of what the database stores (INTERFACE.md). A local write and an
// entry from a peer are held to the same ones: whatever is stored must be
// servable to every peer, and every peer's store must be able to query it.
const (
	MaxCollectionName = 64
	MaxKeyBytes       = 256
	// DefaultMaxDocumentBytes is Persistence.MaxDocumentBytes's default.
	DefaultMaxDocumentBytes = 1 << 20
	// MaxNestingDepth bounds how deeply a document's arrays and objects
	// nest, as MongoDB bounds its documents. SQLite's JSON functions fail
	// on documents nested past their own bound (1000), which would make
	// every filtered or ordered query of the collection fail.
	MaxNestingDepth = 100
	// MaxNodeIDBytes bounds a node id, the author of every entry; the
	// discovery beacon carries no longer one.
	MaxNodeIDBytes = 128
)

// hashHexLen is the length of a v5 chain hash: hex SHA-256.
const hashHexLen = 64

// ValidateCollection checks a collection name for a user write:
// [A-Za-z0-9_.-]{1,64}, and a leading '_' is reserved for the system.
func ValidateCollection(name string) error {
	const op = "domain.ValidateCollection"
	if len(name) == 0 || len(name) > MaxCollectionName {
		return Errorf(CodeInvalidArgument, op, "collection name must be 1 to %d characters, got %d", MaxCollectionName, len(name))
	}
	if name[0] == '_' {
		return Errorf(CodeInvalidArgument, op, "collection name %q: a leading '_' is reserved for the system", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return Errorf(CodeInvalidArgument, op, "collection name %q has a character outside [A-Za-z0-9_.-]", name)
		}
	}
	return nil
}

// ValidateKey checks a document key: 1 to 256 bytes of valid UTF-8.
func ValidateKey(key string) error {
	return validateText("domain.ValidateKey", "key", key, MaxKeyBytes)
}

// ValidateNodeID checks a node id: 1 to MaxNodeIDBytes bytes of valid
// UTF-8 (the wire carries it in protobuf strings, which must be UTF-8).
func ValidateNodeID(id string) error {
	return validateText("domain.ValidateNodeID", "node id", id, MaxNodeIDBytes)
}

// validateText checks that s, named what in the message, is 1 to maxBytes
// bytes of valid UTF-8. The message never quotes s: it may be megabytes.
func validateText(op, what, s string, maxBytes int) error {
	if len(s) == 0 || len(s) > maxBytes {
		return Errorf(CodeInvalidArgument, op, "%s must be 1 to %d bytes, got %d", what, maxBytes, len(s))
	}
	if !utf8.ValidString(s) {
		return Errorf(CodeInvalidArgument, op, "%s is not valid UTF-8", what)
	}
	return nil
}

// ValidateBody checks a document body for a user write: a JSON object of at
// most maxBytes bytes (maxBytes <= 0 means DefaultMaxDocumentBytes), valid
// UTF-8, nested at most MaxNestingDepth deep, no key twice in one object and
// no number beyond a double's range.
func ValidateBody(body []byte, maxBytes int) error {
	return validateJSON("domain.ValidateBody", body, maxBytes, true)
}

// validateJSON checks a document's JSON text; objectOnly refuses any value
// but an object. A body that passes every check is seen once
// (passesJSONChecks).
func validateJSON(op string, body []byte, maxBytes int, objectOnly bool) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxDocumentBytes
	}
	if len(body) > maxBytes {
		return Errorf(CodeTooLarge, op, "document is %d bytes, the limit is %d", len(body), maxBytes)
	}
	if passesJSONChecks(body, objectOnly) {
		return nil
	}
	// Some check fails: the checks one by one name the first.
	return jsonCheckSteps(op, body, objectOnly)
}

// jsonCheckSteps runs validateJSON's checks after the size limit one by
// one, the cheap ones first (a refused body is often large), and returns
// the first failure.
func jsonCheckSteps(op string, body []byte, objectOnly bool) error {
	if objectOnly {
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return Errorf(CodeInvalidArgument, op, "document must be a JSON object")
		}
	}
	// encoding/json takes invalid UTF-8 inside strings, protobuf does not:
	// such a document could never be sent to a peer.
	if !utf8.Valid(body) {
		return Errorf(CodeInvalidArgument, op, "document is not valid UTF-8")
	}
	if NestingExceeds(body, MaxNestingDepth) {
		return Errorf(CodeInvalidArgument, op, "document nests arrays and objects deeper than %d levels", MaxNestingDepth)
	}
	if !json.Valid(body) {
		return Errorf(CodeInvalidArgument, op, "document is not valid JSON")
	}
	return checkKeysAndNumbers(op, body)
}

// checkKeysAndNumbers refuses, in valid JSON text, an object with the same
// key twice (readers would disagree on which one counts: encoding/json
// takes the last, others the first) and a number that does not fit a
// double (1e400: it would read as infinity, which JSON cannot hold). One
// pass over the text; only keys with escapes and long or exponent numbers
// are decoded.
func checkKeysAndNumbers(op string, b []byte) error {
	// The keys of every open object, stacked; frames[i] says where the
	// keys of the i-th open container start (array: -1). Keys are slices
	// of b (decoded only when escaped), compared in place: most objects
	// have a few keys, and a map per object cost most of a write's
	// validation. An object with many keys gets a set, so a document of a
	// million keys is not quadratic.
	var keysBuf [32][]byte
	var framesBuf [16]keyFrame
	keys, frames := keysBuf[:0], framesBuf[:0]
	expectKey := false
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '{':
			frames = append(frames, keyFrame{start: len(keys)})
			expectKey = true
			i++
		case c == '[':
			frames = append(frames, keyFrame{start: -1})
			i++
		case c == '}' || c == ']':
			if f := frames[len(frames)-1]; f.start >= 0 {
				keys = keys[:f.start]
			}
			frames = frames[:len(frames)-1]
			i++
		case c == ',':
			expectKey = len(frames) > 0 && frames[len(frames)-1].start >= 0
			i++
		case c == '"':
			end := i + 1
			escaped := false
			for ; b[end] != '"'; end++ {
				if b[end] == '\\' {
					escaped = true
					end++
				}
			}
			end++
			if expectKey {
				key := b[i+1 : end-1]
				if escaped {
					var decoded string
					if err := json.Unmarshal(b[i:end], &decoded); err != nil {
						return Errorf(CodeInvalidArgument, op, "document is not valid JSON: %w", err)
					}
					key = []byte(decoded)
				}
				f := &frames[len(frames)-1]
				if dupKey(keys[f.start:], &f.set, key) {
					return Errorf(CodeInvalidArgument, op, "document has the key %q twice in one object", truncate(string(key), 64))
				}
				keys = append(keys, key)
				expectKey = false
			}
			i = end
		case c == '-' || c >= '0' && c <= '9':
			end := i
			long := false
			for end < len(b) && (b[end] == '-' || b[end] == '+' || b[end] == '.' || b[end] == 'e' || b[end] == 'E' || b[end] >= '0' && b[end] <= '9') {
				long = long || b[end] == 'e' || b[end] == 'E'
				end++
			}
			if long || end-i > 15 {
				if f, err := strconv.ParseFloat(string(b[i:end]), 64); err != nil && math.IsInf(f, 0) {
					return Errorf(CodeInvalidArgument, op, "document holds the number %s, which does not fit a double", truncate(string(b[i:end]), 32))
				}
			}
			i = end
		default:
			i++
		}
	}
	return nil
}

// smallObjectKeys is how many keys an object's duplicate check compares
// one by one before it keeps them in a set.
const smallObjectKeys = 16

// dupKey reports whether key is among seen, the keys of one object so far
// (set: that object's keys once it has more than smallObjectKeys).
func dupKey(seen [][]byte, set *map[string]struct{}, key []byte) bool {
	if *set == nil && len(seen) < smallObjectKeys {
		for _, k := range seen {
			if bytes.Equal(k, key) {
				return true
			}
		}
		return false
	}
	if *set == nil {
		*set = make(map[string]struct{}, 2*len(seen))
		for _, k := range seen {
			(*set)[string(k)] = struct{}{}
		}
	}
	if _, dup := (*set)[string(key)]; dup {
		return true
	}
	(*set)[string(key)] = struct{}{}
	return false
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// NestingExceeds reports whether the JSON text nests arrays and objects
// more than limit levels deep. It scans the text without decoding it, so a
// deep document costs no more than a flat one of its size; brackets inside
// strings are not counted. On text that is not JSON the answer is
// meaningless but the scan still ends.
func NestingExceeds(data []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			// Skip the string: to its closing quote, past escaped bytes.
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			if depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// ValidateWrite checks collection, key and (for puts) body together.
func ValidateWrite(collection, key string, op Op, body []byte, maxBytes int) error {
	if err := ValidateCollection(collection); err != nil {
		return err
	}
	if err := ValidateKey(key); err != nil {
		return err
	}
	if op == OpPut {
		return ValidateBody(body, maxBytes)
	}
	return nil
}

// EntryLimits are the configured limits an entry from a peer is held to.
type EntryLimits struct {
	// MaxDocumentBytes is Persistence.MaxDocumentBytes; <= 0 means
	// DefaultMaxDocumentBytes.
	MaxDocumentBytes int
}

// ValidateEntry checks an entry from a peer as a local write is checked:
// its collection, key and author, its document (a delete's, when it has
// one, too: the oplog keeps it), and the form of its hashes. One
// difference: a put's document may be any JSON value, not only an object,
// since the other implementations store and serve such values (PROTOCOL.md
// §2). It does not check the hash chain or the clock.
func ValidateEntry(e *Entry, lim EntryLimits) error {
	const op = "domain.ValidateEntry"
	if err := ValidateCollection(e.Collection); err != nil {
		return err
	}
	if err := ValidateKey(e.Key); err != nil {
		return err
	}
	if err := ValidateNodeID(e.Stamp.Node); err != nil {
		return err
	}
	if e.Op == OpPut || len(e.Data) > 0 {
		if err := validateJSON(op, e.Data, lim.MaxDocumentBytes, false); err != nil {
			return err
		}
	}
	if err := ValidateExpiry(e.ExpiresAt); err != nil {
		return err
	}
	if !isHashOrEmpty(e.Hash) || !isHashOrEmpty(e.PrevHash) {
		return Errorf(CodeInvalidArgument, op, "hash and previous hash must each be empty or %d lowercase hex digits", hashHexLen)
	}
	return nil
}

// ValidateDocument checks a document from a peer's snapshot as the entry
// that wrote it would be checked (ValidateEntry).
func ValidateDocument(d *Document, lim EntryLimits) error {
	e := Entry{Collection: d.Collection, Key: d.Key, Op: OpPut, Data: d.Data, Stamp: d.Stamp, ExpiresAt: d.ExpiresAt}
	if d.Deleted {
		e.Op = OpDelete
	}
	return ValidateEntry(&e, lim)
}

// IsChainHash reports whether h has the form of a v5 chain hash: 64
// lowercase hex digits.
func IsChainHash(h string) bool {
	if len(h) != hashHexLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isHashOrEmpty(h string) bool { return h == "" || IsChainHash(h) }
