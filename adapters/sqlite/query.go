package sqlite

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// The query translation. A filter is decided by entgl_match, domain's
// evaluator run inside SQLite (queryfuncs.go); the SQL around it only
// narrows the rows. When a conjunct of the filter is an equality, $in or
// range on an indexed path, a prefilter on the expression index is added:
// a superset of that conjunct's matches, so the index finds the candidates
// and entgl_match keeps exactly the matching ones. A filter that is one
// plain equality or $in is decided by SQLite's JSON functions where they
// can (plainFilter), indexed or not; on an indexed path most candidates
// are decided by the value the index holds, without parsing the document
// (sureExpr). Ordering is by entgl_sortkey, domain's sort key, then key.
//
// Every value and filter is a bound parameter. Only indexed paths appear
// in SQL text: they passed a strict allowlist in EnsureIndex and are written
// literally so the planner can match the expression index (it cannot match
// an expression holding a parameter).

type queryBuilder struct {
	sb      strings.Builder
	args    []any
	indexed func(path string) bool
	// usesIndex: the filter names an indexed path literally.
	usesIndex bool
	// collection is the parameter holding the collection name.
	collection string
	// sure: the candidates carry a column saying the index value alone
	// proves the match (sureExpr).
	sure bool
}

// jsonPath turns a dotted path that passed indexablePath into an SQLite
// JSON path with quoted labels.
func jsonPath(path string) string {
	var b strings.Builder
	b.WriteByte('$')
	for seg := range strings.SplitSeq(path, ".") {
		b.WriteString(`."`)
		b.WriteString(seg)
		b.WriteByte('"')
	}
	return b.String()
}

// indexablePath is the allowlist for paths that end up literally in SQL.
func indexablePath(path string) bool { return domain.ValidateIndexPath(path) == nil }

func (q *queryBuilder) w(parts ...string) {
	for _, p := range parts {
		q.sb.WriteString(p)
	}
}

// arg binds v and returns its numbered parameter, so one value can be
// referred to several times in an expression.
func (q *queryBuilder) arg(v any) string {
	q.args = append(q.args, v)
	return "?" + strconv.Itoa(len(q.args))
}

// where writes the FROM and WHERE clauses: the collection's live
// documents, found through an index when a conjunct allows (prefilter), and
// the filter itself (filterID is its entgl_match registration; 0 means no
// filter). A document whose expiry is at or before nowMs is not live; the
// instant is a parameter, so the statement text (and its cached
// preparation) does not change with the time.
func (q *queryBuilder) where(collection string, f domain.Filter, filterID, nowMs int64) {
	q.collection = q.arg(collection)
	outer := q.sb
	q.sb = strings.Builder{}
	plain, maybe := "", ""
	if filterID != 0 {
		q.prefilter(f)
		plain, maybe = q.plainFilter(f)
	}
	candidates := q.sb.String()
	q.sb = outer
	if candidates != "" {
		// CROSS JOIN keeps the candidates the outer loop: left to
		// itself, the planner walks the whole collection and probes them.
		q.w(" FROM (", candidates, ") AS candidates CROSS JOIN documents ON documents.rowid = candidates.rid")
	} else {
		q.w(" FROM documents")
	}
	q.w(" WHERE documents.collection = ", q.collection, " AND documents.deleted = 0",
		" AND (documents.expires_at = 0 OR documents.expires_at > ", q.arg(nowMs), ")")
	if filterID == 0 {
		return
	}
	q.w(" AND (")
	if q.sure {
		q.w("candidates.sure OR ")
	}
	if plain != "" {
		q.w(plain, " OR (", maybe, " AND entgl_match(documents.data, ", q.arg(filterID), ")))")
	} else {
		q.w("entgl_match(documents.data, ", q.arg(filterID), "))")
	}
}

// plainFilter decides in SQL, at SQLite's speed, the commonest filter: one
// equality or $in of plain values (plainKind) on a path of the index
// allowlist. plain implies a match; maybe holds for the rows plain cannot
// decide (array fields, which may hold the value; numbers spelled as
// reals; dotted paths crossing an array, which extract NULL), left to
// entgl_match. Any other row does not match. Both are "" for other filters.
func (q *queryBuilder) plainFilter(f domain.Filter) (plain, maybe string) {
	all := conjuncts(f, nil)
	if len(all) != 1 {
		return "", ""
	}
	var path, kind, cond string
	switch x := all[0].(type) {
	case domain.Cmp:
		v, ok := exactIndexValue(x.Value)
		if x.Op != domain.OpEq || !ok || !indexablePath(x.Path) {
			return "", ""
		}
		if path, kind = x.Path, plainKind(x.Value); kind != "" {
			cond = " = " + q.arg(v)
		}
	case domain.In:
		if len(x.Values) == 0 || !indexablePath(x.Path) {
			return "", ""
		}
		if path, kind = x.Path, plainKind(x.Values...); kind != "" {
			list, ok := inIndexList(x.Values)
			if !ok {
				return "", ""
			}
			cond = " IN (SELECT value FROM json_each(" + q.arg(list) + "))"
		}
	}
	if kind == "" {
		return "", ""
	}
	jp := "'" + jsonPath(path) + "'"
	e, t := "json_extract(documents.data, "+jp+")", "json_type(documents.data, "+jp+")"
	if kind == "text" {
		plain, maybe = e+cond, t+" = 'array'"
	} else {
		plain, maybe = "("+t+" = 'integer' AND "+e+cond+")", t+" IN ('array', 'real')"
	}
	if strings.Contains(path, ".") {
		maybe = "(" + maybe + " OR " + e + " IS NULL)"
	}
	return plain, maybe
}

// prefilter writes a query of candidate rowids, a superset of the matches,
// for the first conjunct that an index can narrow: equalities and $in
// first, ranges otherwise. It writes nothing when no conjunct can.
func (q *queryBuilder) prefilter(f domain.Filter) {
	var ranges []domain.Cmp
	all := conjuncts(f, nil)
	// kind returns the plainKind of the values when the conjunct is the
	// whole filter, so the index value may decide it (sureExpr).
	kind := func(values ...any) string {
		if len(all) != 1 {
			return ""
		}
		return plainKind(values...)
	}
	for _, c := range all {
		switch x := c.(type) {
		case domain.Cmp:
			if !q.indexable(x.Path) {
				continue
			}
			if x.Op == domain.OpEq {
				if v, ok := exactIndexValue(x.Value); ok {
					ref := q.arg(v)
					q.supersetOf(x.Path, plainKind(x.Value) != "", kind(x.Value), func(e string) { q.w(e, " = ", ref) })
					return
				}
			}
			if x.Op == domain.OpGt || x.Op == domain.OpGte || x.Op == domain.OpLt || x.Op == domain.OpLte || x.Op == domain.OpEq {
				ranges = append(ranges, x)
			}
		case domain.In:
			if !q.indexable(x.Path) || len(x.Values) == 0 {
				continue
			}
			if list, ok := inIndexList(x.Values); ok {
				ref := q.arg(list)
				q.supersetOf(x.Path, plainKind(x.Values...) != "", kind(x.Values...), func(e string) { q.w(e, " IN (SELECT value FROM json_each(", ref, "))") })
				return
			}
		}
	}
	for _, c := range ranges {
		if cond, ok := q.rangeCond(c); ok {
			q.supersetOf(c.Path, false, "", cond)
			return
		}
	}
}

// plainKind is "text" when every value is a string json_extract returns
// as it is and no array or object text can equal (no leading '[' or '{',
// no NUL), "integer" when every value is an integer exactIndexValue keeps,
// "" otherwise.
func plainKind(values ...any) string {
	kind := ""
	for _, v := range values {
		k := ""
		n, err := domain.NormalizeValue(v)
		switch x := n.(type) {
		case string:
			if err == nil && !strings.HasPrefix(x, "[") && !strings.HasPrefix(x, "{") && !strings.ContainsRune(x, 0) {
				k = "text"
			}
		case json.Number:
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil && i <= maxExactInt && i >= -maxExactInt {
				k = "integer"
			}
		}
		if k == "" || kind != "" && k != kind {
			return ""
		}
		kind = k
	}
	return kind
}

func (q *queryBuilder) indexable(path string) bool {
	return q.indexed != nil && indexablePath(path) && q.indexed(path)
}

// supersetOf writes the rowids whose indexed expression of path meets
// cond, or is an array (json_extract gives its JSON text, starting with
// '['; the filter may match one of its elements), or, on a dotted path, is
// NULL (a path crossing an array extracts NULL). Each branch is its own
// index search: written as one OR, the planner often scans instead.
// disjoint says cond holds for no array text, so the branches share no
// rowid and need no UNION to drop duplicates. A sureKind (the plainKind of
// a filter that is this one plain conjunct, disjoint then) adds the column
// sure: sureExpr on cond's branch, 0 on the others.
func (q *queryBuilder) supersetOf(path string, disjoint bool, sureKind string, cond func(expr string)) {
	q.usesIndex = true
	e := "json_extract(documents.data, '" + jsonPath(path) + "')"
	branch := " FROM documents WHERE documents.collection = " + q.collection + " AND "
	union := " UNION SELECT rowid"
	if disjoint {
		union = " UNION ALL SELECT rowid"
	}
	q.w("SELECT rowid AS rid")
	if sureKind != "" && disjoint {
		q.sure = true
		q.w(", ", sureExpr(sureKind, e), " AS sure")
		union += ", 0"
	}
	q.w(branch)
	cond(e)
	q.w(union, branch, e, " >= '[' AND ", e, " < '\\'")
	if strings.Contains(path, ".") {
		q.w(union, branch, e, " IS NULL")
	}
}

// sureExpr is true for a candidate whose indexed value e, read from the
// index without parsing the document, proves a plain equality or $in of
// kind: a text value equal to a plain string is that JSON string (arrays
// and objects extract as text starting with '[' or '{'); an integer value
// is a JSON integer, except 1 and 0, which json_extract also gives for
// true and false. Other candidates are decided on the document.
func sureExpr(kind, e string) string {
	if kind == "text" {
		return "1"
	}
	return "(typeof(" + e + ") = 'integer' AND " + e + " NOT IN (0, 1))"
}

// conjuncts lists the filters that must all hold for f to hold.
func conjuncts(f domain.Filter, out []domain.Filter) []domain.Filter {
	switch x := f.(type) {
	case domain.And:
		for _, g := range x.Filters {
			out = conjuncts(g, out)
		}
	case *domain.And:
		return conjuncts(*x, out)
	case *domain.Cmp:
		return append(out, *x)
	case *domain.In:
		return append(out, *x)
	default:
		out = append(out, f)
	}
	return out
}

// maxExactInt bounds the integers json_extract and a bound int64 compare
// exactly with any spelling of the same number in a document.
const maxExactInt = 1 << 53

// exactIndexValue is the value json_extract yields for a document field
// equal to v, when that is one value: strings, booleans (json_extract gives
// 1 or 0) and integers of at most 2^53. Other numbers go through a range
// (rangeCond): SQLite's and Go's parsing of the same decimal text may round
// differently.
func exactIndexValue(v any) (any, bool) {
	n, err := domain.NormalizeValue(v)
	if err != nil {
		return nil, false
	}
	switch x := n.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return int64(1), true
		}
		return int64(0), true
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err == nil && i <= maxExactInt && i >= -maxExactInt {
			return i, true
		}
	}
	return nil, false
}

// inIndexList is $in's values as one JSON array for json_each, when each
// has an exact index value.
func inIndexList(values []any) (string, bool) {
	list := make([]any, len(values))
	for i, v := range values {
		iv, ok := exactIndexValue(v)
		if !ok {
			return "", false
		}
		list[i] = iv
	}
	b, err := json.Marshal(list)
	return string(b), err == nil
}

// rangeSlack widens a numeric bound by a few units in the last place, so
// rounding differences between SQLite's and Go's number parsing never drop
// a match from the superset.
const rangeSlack = 4

func widen(f, toward float64) float64 {
	for range rangeSlack {
		f = math.Nextafter(f, toward)
	}
	return f
}

// rangeCond is the index condition for a comparison with a number or a
// string: a superset of the matching scalars. json_extract orders numbers
// (booleans as 1 and 0 among them) before all text.
func (q *queryBuilder) rangeCond(c domain.Cmp) (func(e string), bool) {
	n, err := domain.NormalizeValue(c.Value)
	if err != nil {
		return nil, false
	}
	switch x := n.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, false
		}
		lo, hi := widen(f, math.Inf(-1)), widen(f, math.Inf(1))
		switch c.Op {
		case domain.OpGt, domain.OpGte:
			return func(e string) { q.w("(", e, " >= ", q.arg(lo), " AND ", e, " < '')") }, true
		case domain.OpLt, domain.OpLte:
			return func(e string) { q.w(e, " <= ", q.arg(hi)) }, true
		}
		return func(e string) { q.w(e, " BETWEEN ", q.arg(lo), " AND ", q.arg(hi)) }, true
	case string:
		switch c.Op {
		case domain.OpGt, domain.OpGte:
			return func(e string) { q.w(e, " >= ", q.arg(x)) }, true
		case domain.OpLt, domain.OpLte:
			return func(e string) { q.w("(", e, " <= ", q.arg(x), " AND ", e, " >= '')") }, true
		}
	}
	return nil, false
}

// orderBy writes the sort keys (domain.SortKey, descending ones with DESC),
// then key ascending.
func (q *queryBuilder) orderBy(orders []domain.Order) {
	if len(orders) == 0 {
		if q.usesIndex {
			// Without statistics the planner walks the key index to skip
			// the sort, scanning the whole collection; "+" takes that
			// index out of the running so the expression index is used and
			// only the matches are sorted.
			q.w(" ORDER BY +documents.key")
		} else {
			q.w(" ORDER BY documents.key")
		}
		return
	}
	q.w(" ORDER BY ")
	for _, o := range orders {
		if o.Desc {
			q.w("entgl_sortkey(documents.data, ", q.arg(o.Path), ", 1) DESC, ")
		} else {
			q.w("entgl_sortkey(documents.data, ", q.arg(o.Path), ", 0), ")
		}
	}
	q.w("documents.key")
}
