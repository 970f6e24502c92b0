package sqlite

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// The query translation. Every value and every JSON path is a bound
// parameter, except paths given to EnsureIndex: those passed a strict
// allowlist there and are written literally so the planner can match the
// expression index (it cannot match an expression holding a parameter).
//
// SQL booleans and json_extract cannot tell true from 1, so every predicate
// checks the JSON type first with json_type, which is also what keeps bools,
// numbers and strings from ever comparing equal. Every predicate is written
// to be NULL-free, so NOT (Ne, NotContains) is exact.

const op = "sqlite.query"

type queryBuilder struct {
	sb      strings.Builder
	args    []any
	indexed func(path string) bool
	// usesIndex: the filter names an indexed path literally.
	usesIndex bool
}

// jsonPath turns a dotted path into an SQLite JSON path with quoted labels
// (domain.ValidatePath guarantees no segment holds '"').
func jsonPath(path string) (string, error) {
	if err := domain.ValidatePath(path); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteByte('$')
	for seg := range strings.SplitSeq(path, ".") {
		b.WriteString(`."`)
		b.WriteString(seg)
		b.WriteByte('"')
	}
	return b.String(), nil
}

// indexablePath is the allowlist for paths that end up literally in SQL.
func indexablePath(path string) bool {
	if path == "" {
		return false
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// pathRef returns the SQL for the JSON path: a parameter, or a literal for
// an indexed (allowlisted) path.
func (q *queryBuilder) pathRef(path string) (string, error) {
	jp, err := jsonPath(path)
	if err != nil {
		return "", err
	}
	if q.indexed != nil && q.indexed(path) && indexablePath(path) {
		q.usesIndex = true
		return "'" + jp + "'", nil
	}
	return q.arg(jp), nil
}

func (q *queryBuilder) w(parts ...string) {
	for _, p := range parts {
		q.sb.WriteString(p)
	}
}

// arg binds v and returns its numbered parameter, so one path can be
// referred to several times in an expression.
func (q *queryBuilder) arg(v any) string {
	q.args = append(q.args, v)
	return "?" + strconv.Itoa(len(q.args))
}

// typeExpr is the JSON type at a path, 'missing' when absent.
func typeExpr(p string) string { return "IFNULL(json_type(documents.data, " + p + "), 'missing')" }

func extractExpr(p string) string { return "json_extract(documents.data, " + p + ")" }

// scalar normalises a filter value to nil, bool, float64 or string.
func scalar(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, float64, string:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, domain.Errorf(domain.CodeInvalidArgument, op, "bad number %q", x)
		}
		return f, nil
	}
	return nil, domain.Errorf(domain.CodeInvalidArgument, op, "filter value %v (%T) is not a JSON scalar", v, v)
}

func (q *queryBuilder) filter(f domain.Filter) error {
	switch x := f.(type) {
	case nil:
		q.w("1")
	case domain.And:
		return q.list(x.Filters, " AND ", "1")
	case *domain.And:
		return q.list(x.Filters, " AND ", "1")
	case domain.Or:
		return q.list(x.Filters, " OR ", "0")
	case *domain.Or:
		return q.list(x.Filters, " OR ", "0")
	case domain.In:
		return q.in(x)
	case *domain.In:
		return q.in(*x)
	case domain.Cmp:
		return q.cmp(x)
	case *domain.Cmp:
		return q.cmp(*x)
	default:
		return domain.Errorf(domain.CodeInvalidArgument, op, "unknown filter %T", f)
	}
	return nil
}

func (q *queryBuilder) list(fs []domain.Filter, sep, empty string) error {
	if len(fs) == 0 {
		q.w(empty)
		return nil
	}
	q.w("(")
	for i, f := range fs {
		if i > 0 {
			q.w(sep)
		}
		if err := q.filter(f); err != nil {
			return err
		}
	}
	q.w(")")
	return nil
}

func (q *queryBuilder) in(x domain.In) error {
	if len(x.Values) == 0 {
		q.w("0")
		return nil
	}
	q.w("(")
	for i, v := range x.Values {
		if i > 0 {
			q.w(" OR ")
		}
		if err := q.cmp(domain.Cmp{Op: domain.OpEq, Path: x.Path, Value: v}); err != nil {
			return err
		}
	}
	q.w(")")
	return nil
}

func (q *queryBuilder) cmp(c domain.Cmp) error {
	v, err := scalar(c.Value)
	if err != nil {
		return err
	}
	p, err := q.pathRef(c.Path)
	if err != nil {
		return err
	}
	t, x := typeExpr(p), extractExpr(p)
	switch c.Op {
	case domain.OpEq:
		q.eq(t, x, v)
	case domain.OpNe:
		q.w("NOT ")
		q.eq(t, x, v)
	case domain.OpGt, domain.OpGte, domain.OpLt, domain.OpLte:
		q.order(c.Op, t, x, v)
	case domain.OpContains:
		q.contains(p, t, x, v)
	case domain.OpNotContains:
		q.w("NOT ")
		q.contains(p, t, x, v)
	default:
		return domain.Errorf(domain.CodeInvalidArgument, op, "unknown comparison operator %d", c.Op)
	}
	return nil
}

func (q *queryBuilder) eq(t, x string, v any) {
	switch v := v.(type) {
	case nil:
		q.w("(", t, " IN ('missing', 'null'))")
	case bool:
		if v {
			q.w("(", t, " = 'true')")
		} else {
			q.w("(", t, " = 'false')")
		}
	case float64:
		q.w("(", t, " IN ('integer', 'real') AND ", x, " = ", q.arg(v), ")")
	case string:
		q.w("(", t, " = 'text' AND ", x, " = ", q.arg(v), ")")
	}
}

var sqlOps = map[domain.CmpOp]string{domain.OpGt: " > ", domain.OpGte: " >= ", domain.OpLt: " < ", domain.OpLte: " <= "}

func (q *queryBuilder) order(o domain.CmpOp, t, x string, v any) {
	sop := sqlOps[o]
	switch v := v.(type) {
	case nil:
		q.w("0") // null never orders against anything, not even null

	case bool:
		q.w("(", t, " IN ('true', 'false') AND (", t, " = 'true')", sop, q.arg(boolInt(v)), ")")
	case float64:
		q.w("(", t, " IN ('integer', 'real') AND ", x, sop, q.arg(v), ")")
	case string:
		q.w("(", t, " = 'text' AND ", x, sop, q.arg(v), ")")
	}
}

func (q *queryBuilder) contains(p, t, x string, v any) {
	q.w("(")
	if s, ok := v.(string); ok {
		q.w("(", t, " = 'text' AND instr(", x, ", ", q.arg(s), ") > 0) OR ")
	}
	q.w("(", t, " = 'array' AND EXISTS (SELECT 1 FROM json_each(documents.data, ", p, ") AS je WHERE ")
	switch v := v.(type) {
	case nil:
		q.w("je.type = 'null'")
	case bool:
		if v {
			q.w("je.type = 'true'")
		} else {
			q.w("je.type = 'false'")
		}
	case float64:
		q.w("je.type IN ('integer', 'real') AND je.value = ", q.arg(v))
	case string:
		q.w("je.type = 'text' AND je.value = ", q.arg(v))
	}
	q.w(")))")
}

// orderBy writes the documented rank: missing/null < bool < number < string
// < array/object, then the value, then key ascending.
func (q *queryBuilder) orderBy(o *domain.Order) error {
	if o == nil {
		if q.usesIndex {
			// Without statistics the planner walks the key index to skip
			// the sort, scanning the whole collection; "+" takes that
			// index out of the running so the expression index is used and
			// only the matches are sorted.
			q.w(" ORDER BY +documents.key")
		} else {
			q.w(" ORDER BY documents.key")
		}
		return nil
	}
	p, err := q.pathRef(o.Path)
	if err != nil {
		return err
	}
	dir := ""
	if o.Desc {
		dir = " DESC"
	}
	q.w(" ORDER BY CASE ", typeExpr(p), " WHEN 'missing' THEN 0 WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1",
		" WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 ELSE 4 END", dir,
		", ", extractExpr(p), dir, ", documents.key")
	return nil
}
