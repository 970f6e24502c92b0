package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/knadh/koanf/maps"
	kjson "github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/entgldb/entgldb-go/domain"
)

// EnvPrefix starts every environment override, ASP.NET style:
// ENTGLDB__NETWORK__TCPPORT=5001 sets EntglDb.Network.TcpPort.
const EnvPrefix = "ENTGLDB__"

// Override keys for the serve command's flags (Load's overrides map).
const (
	KeyNodeId       = "NodeId"
	KeyDatabasePath = "Persistence.DatabasePath"
	KeyTcpPort      = "Network.TcpPort"
	KeyUdpPort      = "Network.UdpPort"
	KeyStaticPeers  = "Network.StaticPeers"
	KeyHttpAddress  = "Http.Address"
)

// FindFile picks the configuration file: the explicit --config value when
// given (Load then fails if it is missing), else DefaultFile in the working
// directory when it exists, else "" (defaults alone).
func FindFile(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if st, err := os.Stat(DefaultFile); err == nil && !st.IsDir() {
		return DefaultFile
	}
	return ""
}

// Load builds the configuration from, in rising precedence: Default(), the
// "EntglDb" object of the JSON file at path (skipped when path is ""), the
// ENTGLDB__ variables of env ("NAME=value" entries as os.Environ returns
// them) and overrides (the command-line flags, keyed by dotted paths such as
// "Network.TcpPort"). Key names are matched case-insensitively, as ASP.NET
// does, and mapped onto the canonical names before merging because koanf's
// keys are case-sensitive. Every problem found (unknown keys, values of the
// wrong type, failed validation) comes back at once in one CONFIG_ERROR
// whose cause is a Problems list.
func Load(path string, env []string, overrides map[string]any) (Config, error) {
	const op = "config.Load"
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(schemaDefaults(), "."), nil); err != nil {
		return Config{}, domain.Wrap(domain.CodeConfig, op, err)
	}

	var probs Problems
	var familyKeys []string
	layers := []map[string]any{}
	if path != "" {
		flat, keys, p, err := readFile(path)
		if err != nil {
			return Config{}, err
		}
		probs = append(probs, p...)
		layers = append(layers, flat)
		familyKeys = keys
	}
	flat, p := fromEnv(env)
	probs = append(probs, p...)
	layers = append(layers, flat)
	flat, p = fromOverrides(overrides)
	probs = append(probs, p...)
	layers = append(layers, flat)

	for _, l := range layers {
		if err := k.Load(confmap.Provider(l, "."), nil); err != nil {
			return Config{}, domain.Wrap(domain.CodeConfig, op, err)
		}
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		// Values were coerced to their field types above, so this is a bug.
		return Config{}, domain.Wrap(domain.CodeConfig, op, err)
	}
	c.normalize()
	c.FamilyKeys = familyKeys
	probs = append(probs, c.problems()...)
	if len(probs) > 0 {
		return c, probs.asError(op)
	}
	return c, nil
}

// normalize folds the case-insensitive enumerations onto their canonical
// spelling so the rest of the program compares plain strings.
func (c *Config) normalize() {
	c.Sync.ConflictResolution = strings.ToLower(strings.TrimSpace(c.Sync.ConflictResolution))
	c.Logging.Format = strings.ToLower(strings.TrimSpace(c.Logging.Format))
	if lv, ok := canonicalLevel(c.Logging.Level); ok {
		c.Logging.Level = lv
	}
	if c.Network.StaticPeers == nil {
		c.Network.StaticPeers = []string{}
	}
	if c.Security.LegacyPeers == nil {
		c.Security.LegacyPeers = []string{}
	}
}

// readFile reads the JSON file and maps its "EntglDb" object onto canonical
// flat keys, the C# node's names included (family.go; they are returned as
// written). A missing or unreadable file, or malformed JSON, is an error at
// once; unknown keys and mistyped values are collected as problems.
func readFile(path string) (map[string]any, []string, Problems, error) {
	const op = "config.Load"
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		return nil, nil, nil, domain.Errorf(domain.CodeConfig, op, "cannot read config file %s: %w", path, err)
	}
	raw, err := kjson.Parser().Unmarshal(b)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset-1) // Offset is just past the bad byte
			return nil, nil, nil, domain.Errorf(domain.CodeConfig, op, "config file %s is not valid JSON at line %d, column %d: %w", path, line, col, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) { // valid JSON, but not an object at the top
			return nil, nil, nil, domain.Errorf(domain.CodeConfig, op, "config file %s must hold a JSON object: %w", path, err)
		}
		return nil, nil, nil, domain.Errorf(domain.CodeConfig, op, "config file %s: %w", path, err)
	}
	out := map[string]any{}
	var probs Problems
	family := familyFile{flat: map[string]familyValue{}}
	for key, v := range raw {
		if strings.EqualFold(key, familyKnownPeers) {
			probs = append(probs, family.knownPeers(key, v)...)
			continue
		}
		if !strings.EqualFold(key, Section) {
			continue // other sections (ASP.NET "Logging", "AllowedHosts", ...) are not ours
		}
		if v == nil {
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			probs = append(probs, Problem{Key: key, Value: show(v), Reason: "must be a JSON object"})
			continue
		}
		probs = append(probs, family.takeFamilyKeys(obj)...)
		probs = append(probs, walkFile(obj, "", Section, out)...)
	}
	probs = append(probs, family.merge(out)...)
	return out, family.keys, probs, nil
}

// walkFile maps one object of the file onto canonical keys. prefix is the
// canonical path of obj ("" for the EntglDb object), shown its path as
// written in the file, for messages.
func walkFile(obj map[string]any, prefix, shown string, out map[string]any) Problems {
	var probs Problems
	s := getSchema()
	for key, v := range obj {
		where := shown + "." + key
		full := key
		if prefix != "" {
			full = prefix + "." + key
		}
		canon, ok := s.canon[strings.ToLower(full)]
		if !ok {
			probs = append(probs, Problem{Key: where, Value: show(v), Reason: "unknown key"})
			continue
		}
		if s.sections[canon] {
			if v == nil {
				continue
			}
			sub, ok := v.(map[string]any)
			if !ok {
				probs = append(probs, Problem{Key: where, Value: show(v), Reason: "must be a JSON object"})
				continue
			}
			probs = append(probs, walkFile(sub, canon, where, out)...)
			continue
		}
		if v == nil {
			continue // null keeps the default, like a missing key
		}
		if _, dup := out[canon]; dup {
			probs = append(probs, Problem{Key: where, Value: show(v), Reason: "given twice (key names are case-insensitive)"})
			continue
		}
		val, reason := coerce(canon, v)
		if reason != "" {
			probs = append(probs, Problem{Key: where, Value: show(v), Reason: reason})
			continue
		}
		out[canon] = val
	}
	return probs
}

// fromEnv maps ENTGLDB__A__B=value entries onto canonical keys. A trailing
// numeric segment on a list key sets one element, as ASP.NET binds
// ENTGLDB__NETWORK__STATICPEERS__0; the whole list is also accepted
// comma-separated.
func fromEnv(env []string) (map[string]any, Problems) {
	out := map[string]any{}
	var probs Problems
	s := getSchema()
	indexed := map[string]map[int]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		norm := strings.ReplaceAll(name, ":", "__") // "EntglDb:Network:TcpPort" also works
		if len(norm) < len(EnvPrefix) || !strings.EqualFold(norm[:len(EnvPrefix)], EnvPrefix) {
			continue
		}
		segs := strings.Split(norm[len(EnvPrefix):], "__")
		if n := len(segs); n >= 2 {
			if idx, err := strconv.Atoi(segs[n-1]); err == nil && idx >= 0 {
				canon, ok := s.canon[strings.ToLower(strings.Join(segs[:n-1], "."))]
				if ok && s.isList(canon) {
					if indexed[canon] == nil {
						indexed[canon] = map[int]string{}
					}
					indexed[canon][idx] = strings.TrimSpace(val)
					continue
				}
			}
		}
		canon, ok := s.canon[strings.ToLower(strings.Join(segs, "."))]
		switch {
		case !ok:
			probs = append(probs, Problem{Key: name, Value: strconv.Quote(val), Reason: "unknown key"})
			continue
		case s.sections[canon]:
			probs = append(probs, Problem{Key: name, Value: strconv.Quote(val), Reason: "names a section, not a key"})
			continue
		}
		v, reason := coerce(canon, val)
		if reason != "" {
			probs = append(probs, Problem{Key: name, Value: strconv.Quote(val), Reason: reason})
			continue
		}
		out[canon] = v
	}
	for canon, elems := range indexed {
		idxs := make([]int, 0, len(elems))
		for i := range elems {
			idxs = append(idxs, i)
		}
		sort.Ints(idxs)
		list := make([]string, 0, len(idxs))
		for _, i := range idxs {
			if elems[i] != "" {
				list = append(list, elems[i])
			}
		}
		out[canon] = list
	}
	return out, probs
}

// fromOverrides maps flag values, keyed by dotted paths ("Network.TcpPort",
// optionally prefixed by "EntglDb."), onto canonical keys. Nil values are
// skipped so callers can pass unset flags as nil.
func fromOverrides(ov map[string]any) (map[string]any, Problems) {
	out := map[string]any{}
	var probs Problems
	s := getSchema()
	for key, v := range ov {
		if v == nil {
			continue
		}
		path := key
		if len(path) > len(Section)+1 && strings.EqualFold(path[:len(Section)+1], Section+".") {
			path = path[len(Section)+1:]
		}
		canon, ok := s.canon[strings.ToLower(path)]
		if !ok || s.sections[canon] {
			probs = append(probs, Problem{Key: key, Value: show(v), Reason: "unknown key"})
			continue
		}
		val, reason := coerce(canon, v)
		if reason != "" {
			probs = append(probs, Problem{Key: key, Value: show(v), Reason: reason})
			continue
		}
		out[canon] = val
	}
	return out, probs
}

// coerce converts v to the type of the key's default: ints from integral
// JSON numbers or decimal strings, bools from true/false or their strings,
// strings from any scalar, lists from JSON string arrays or comma-separated
// text. The reason is "" on success.
func coerce(canon string, v any) (any, string) {
	switch getSchema().defaults[canon].(type) {
	case float64: // JSON numbers: every numeric key is an int
		switch x := v.(type) {
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 { // beyond 2^53 a float64 is no exact integer
				return nil, "must be an integer"
			}
			return int(x), ""
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return nil, "must be an integer"
			}
			return n, ""
		}
		rv := reflect.ValueOf(v)
		switch {
		case rv.CanInt():
			return int(rv.Int()), ""
		case rv.CanUint() && rv.Uint() <= math.MaxInt64:
			return int(rv.Uint()), ""
		}
		return nil, "must be an integer"
	case bool:
		switch x := v.(type) {
		case bool:
			return x, ""
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, "must be true or false"
			}
			return b, ""
		}
		return nil, "must be true or false"
	case string:
		switch x := v.(type) {
		case string:
			return x, ""
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), ""
		case bool:
			return strconv.FormatBool(x), ""
		}
		return nil, "must be a string"
	case []any:
		switch x := v.(type) {
		case string:
			list := []string{}
			for _, part := range strings.Split(x, ",") {
				if part = strings.TrimSpace(part); part != "" {
					list = append(list, part)
				}
			}
			return list, ""
		case []string:
			return append([]string{}, x...), ""
		case []any:
			list := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, "must be a list of strings"
				}
				list = append(list, s)
			}
			return list, ""
		}
		return nil, "must be a list of strings"
	}
	return nil, "unknown key"
}

// schema is the set of canonical keys, derived once from Default() so the
// struct tree stays the single source of truth.
type schema struct {
	defaults map[string]any    // canonical flat key -> default value as JSON decodes it
	canon    map[string]string // lower-case key or section -> canonical spelling
	sections map[string]bool   // canonical section names ("Network", ...)
}

var (
	schemaOnce sync.Once
	theSchema  schema
)

func getSchema() *schema {
	schemaOnce.Do(func() {
		b, err := json.Marshal(Default())
		if err != nil {
			panic(fmt.Sprintf("config: marshal defaults: %v", err))
		}
		nested, err := kjson.Parser().Unmarshal(b)
		if err != nil {
			panic(fmt.Sprintf("config: parse defaults: %v", err))
		}
		flat, _ := maps.Flatten(nested, nil, ".")
		theSchema = schema{defaults: flat, canon: map[string]string{}, sections: map[string]bool{}}
		for k := range flat {
			theSchema.canon[strings.ToLower(k)] = k
			if sec, _, ok := strings.Cut(k, "."); ok {
				theSchema.canon[strings.ToLower(sec)] = sec
				theSchema.sections[sec] = true
			}
		}
	})
	return &theSchema
}

func (s *schema) isList(canon string) bool {
	_, ok := s.defaults[canon].([]any)
	return ok
}

// schemaDefaults returns a fresh flat copy of the defaults for koanf.
func schemaDefaults() map[string]any {
	s := getSchema()
	out := make(map[string]any, len(s.defaults))
	for k, v := range s.defaults {
		if v, reason := coerce(k, v); reason == "" {
			out[k] = v
		}
	}
	return out
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(b))))
	line, col = 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// show renders a value for a problem message: strings quoted, the rest as JSON.
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
