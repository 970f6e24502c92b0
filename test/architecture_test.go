// Package test holds black-box tests: the architecture rules, real processes
// of the entgldb binary, several nodes on loopback.
package test

import (
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/entgldb/entgldb-go"

// listedPackage is what `go list -json` says of a package. Imports are the
// non-test imports: test files may use anything.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// goListDeps lists the module's packages and every package they depend on.
func goListDeps(t *testing.T) map[string]listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "-deps", "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err, "go list -deps ./...")
	pkgs := map[string]listedPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		require.NoError(t, dec.Decode(&p))
		pkgs[p.ImportPath] = p
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

// within reports whether path is the module package dir or below it.
func within(path, dir string) bool {
	full := module + "/" + dir
	return path == full || strings.HasPrefix(path, full+"/")
}

// importRule is one rule of DESIGN.md over the packages in scope: every
// direct import must be allowed, and no dependency at any depth forbidden.
type importRule struct {
	name   string
	scope  func(path string) bool
	allow  func(path string, std bool) bool
	forbid func(path string) bool // nil: nothing is forbidden beyond allow
}

// The rules of the house (DESIGN.md). Direct imports of a whole layer are
// checked, which also bounds its dependencies: a domain that imports only
// domain and the standard library depends on nothing else.
var importRules = []importRule{
	{
		name:  "domain imports only the standard library",
		scope: func(p string) bool { return within(p, "domain") },
		allow: func(p string, std bool) bool { return std || within(p, "domain") },
	},
	{
		name:  "ports imports only domain and the standard library",
		scope: func(p string) bool { return p == module+"/ports" },
		allow: func(p string, std bool) bool { return std || within(p, "domain") },
	},
	{
		name:  "app imports only domain, ports, zap and the standard library",
		scope: func(p string) bool { return within(p, "app") },
		allow: func(p string, std bool) bool {
			return std || within(p, "domain") || p == module+"/ports" || within(p, "app") ||
				p == "go.uber.org/zap" || strings.HasPrefix(p, "go.uber.org/zap/")
		},
	},
	{
		name:  "client imports only domain, ports and the standard library",
		scope: func(p string) bool { return within(p, "client") },
		allow: func(p string, std bool) bool { return std || within(p, "domain") || p == module+"/ports" },
	},
	{
		name:   "adapters never import app",
		scope:  func(p string) bool { return within(p, "adapters") },
		allow:  func(string, bool) bool { return true },
		forbid: func(p string) bool { return within(p, "app") },
	},
}

// violations lists every import in pkgs that breaks the rule, one line each
// ("P imports I" or "P imports I, which depends on D").
func (r importRule) violations(pkgs map[string]listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		if p.Standard || !r.scope(p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			dep, known := pkgs[imp]
			if !r.allow(imp, known && dep.Standard) {
				out = append(out, p.ImportPath+" imports "+imp)
				continue
			}
			if r.forbid == nil {
				continue
			}
			if r.forbid(imp) {
				out = append(out, p.ImportPath+" imports "+imp)
				continue
			}
			for _, d := range dep.Deps {
				if r.forbid(d) {
					out = append(out, p.ImportPath+" imports "+imp+", which depends on "+d)
					break
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestDependencyRules(t *testing.T) {
	pkgs := goListDeps(t)
	for _, r := range importRules {
		t.Run(r.name, func(t *testing.T) {
			inScope := 0
			for path := range pkgs {
				if r.scope(path) {
					inScope++
				}
			}
			require.NotZero(t, inScope, "the rule matches no package: a layer was renamed")
			require.Empty(t, r.violations(pkgs), "offending imports")
		})
	}
}

// The rules catch what they are for: an offender in every layer is listed.
func TestDependencyRulesListOffenders(t *testing.T) {
	m := func(dir string) string { return module + "/" + dir }
	pkgs := map[string]listedPackage{
		"fmt":                      {ImportPath: "fmt", Standard: true},
		"go.uber.org/zap":          {ImportPath: "go.uber.org/zap", Deps: []string{"go.uber.org/multierr"}},
		"github.com/some/thing":    {ImportPath: "github.com/some/thing"},
		m("domain"):                {ImportPath: m("domain"), Imports: []string{"fmt", "github.com/some/thing"}},
		m("ports"):                 {ImportPath: m("ports"), Imports: []string{m("domain"), m("ports/porttest")}},
		m("ports/porttest"):        {ImportPath: m("ports/porttest")},
		m("app"):                   {ImportPath: m("app"), Imports: []string{m("domain"), m("ports"), "go.uber.org/zap", m("adapters/sqlite")}},
		module:                     {ImportPath: module, Imports: []string{m("app")}, Deps: []string{m("app"), m("domain")}},
		m("adapters/sqlite"):       {ImportPath: m("adapters/sqlite"), Imports: []string{m("domain")}},
		m("adapters/httpapi"):      {ImportPath: m("adapters/httpapi"), Imports: []string{module}},
		m("adapters/memory"):       {ImportPath: m("adapters/memory"), Imports: []string{m("app")}},
		m("adapters/memory/inner"): {ImportPath: m("adapters/memory/inner"), Imports: []string{"fmt"}},
		m("client"):                {ImportPath: m("client"), Imports: []string{"fmt", m("ports"), m("adapters/httpapi")}},
	}
	var got []string
	for _, r := range importRules {
		got = append(got, r.violations(pkgs)...)
	}
	require.ElementsMatch(t, []string{
		m("domain") + " imports github.com/some/thing",
		m("ports") + " imports " + m("ports/porttest"),
		m("app") + " imports " + m("adapters/sqlite"),
		m("adapters/httpapi") + " imports " + module + ", which depends on " + m("app"),
		m("adapters/memory") + " imports " + m("app"),
		m("client") + " imports " + m("adapters/httpapi"),
	}, got)
}
