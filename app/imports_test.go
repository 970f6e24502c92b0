package app_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAppImportsOnlyDomainPortsZapAndStd enforces the house rule: app/ is
// written against domain/ and ports/ only (plus zap and the standard
// library), so no adapter can leak into the use cases. Test files may use
// adapters.
func TestAppImportsOnlyDomainPortsZapAndStd(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	allowed := func(path string) bool {
		switch {
		case path == "github.com/entgldb/entgldb-go/domain",
			path == "github.com/entgldb/entgldb-go/ports",
			path == "go.uber.org/zap", strings.HasPrefix(path, "go.uber.org/zap/"):
			return true
		}
		// The standard library has no dot in its first path element.
		first, _, _ := strings.Cut(path, "/")
		return !strings.Contains(first, ".")
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range parsed.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			if !allowed(path) {
				t.Errorf("%s imports %s: app may import only domain, ports, zap and the standard library", f, path)
			}
		}
		checked++
	}
	require.NotZero(t, checked)
}
