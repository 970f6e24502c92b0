// Package test holds black-box tests: the architecture rule, real processes
// of the entgldb binary, several nodes on loopback.
package test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/entgldb/entgldb-go"

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// goList returns the packages matching pattern, as `go list -json` reports them.
func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err, "go list %v", args)
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs, "go list %v matched nothing", args)
	return pkgs
}

// standardSet returns the import paths of the standard library among deps.
func standardSet(t *testing.T, deps []string) map[string]bool {
	t.Helper()
	if len(deps) == 0 {
		return nil
	}
	std := map[string]bool{}
	for _, p := range goList(t, deps...) {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	return std
}

// The dependency rule of DESIGN.md: domain imports only the standard
// library; app only domain, ports, zap and the standard library; adapters
// never import app.
func TestDependencyRule(t *testing.T) {
	t.Run("domain imports only the standard library", func(t *testing.T) {
		for _, p := range goList(t, "-deps", "./domain/...") {
			if strings.HasPrefix(p.ImportPath, module+"/domain") {
				continue
			}
			require.True(t, p.Standard, "domain depends on non-standard package %s", p.ImportPath)
		}
	})

	t.Run("app imports only domain, ports, zap and the standard library", func(t *testing.T) {
		for _, p := range goList(t, "./app/...") {
			std := standardSet(t, p.Imports)
			for _, imp := range p.Imports {
				ok := std[imp] ||
					strings.HasPrefix(imp, module+"/domain") ||
					strings.HasPrefix(imp, module+"/ports") ||
					strings.HasPrefix(imp, module+"/app") ||
					strings.HasPrefix(imp, "go.uber.org/zap")
				require.True(t, ok, "%s imports %s, outside the app rule", p.ImportPath, imp)
			}
		}
	})

	t.Run("adapters never import app", func(t *testing.T) {
		for _, p := range goList(t, "-deps", "./adapters/...") {
			require.False(t, strings.HasPrefix(p.ImportPath, module+"/app"),
				"an adapter depends on %s", p.ImportPath)
		}
	})
}
