package domain

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseScopesAllows(t *testing.T) {
	cases := []struct {
		name                    string
		scopes                  []string
		readUsers, writeUsers   bool
		readOrders, writeOrders bool
		admin, scrape           bool
	}{
		{"read one", []string{"users:r"}, true, false, false, false, false, false},
		{"write one", []string{"users:rw"}, true, true, false, false, false, false},
		{"two collections", []string{"users:rw", "orders:r"}, true, true, true, false, false, false},
		{"read all", []string{"*:r"}, true, false, true, false, false, false},
		{"write all", []string{"*:rw"}, true, true, true, true, false, false},
		{"metrics only", []string{"metrics"}, false, false, false, false, false, true},
		{"admin is everything", []string{"admin"}, true, true, true, true, true, true},
		{"spaces and repeats", []string{" users:r ", "users:r"}, true, false, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseScopes(c.scopes)
			require.NoError(t, err)
			require.Equal(t, c.readUsers, a.CanRead("users"))
			require.Equal(t, c.writeUsers, a.CanWrite("users"))
			require.Equal(t, c.readOrders, a.CanRead("orders"))
			require.Equal(t, c.writeOrders, a.CanWrite("orders"))
			require.Equal(t, c.admin, a.IsAdmin())
			require.Equal(t, c.scrape, a.CanScrape())
		})
	}
	a, err := ParseScopes([]string{" users:r ", "users:r", "orders:rw"})
	require.NoError(t, err)
	require.Equal(t, []string{"users:r", "orders:rw"}, a.Scopes(), "canonical: trimmed, repeats dropped, order kept")
}

func TestParseScopesRefuses(t *testing.T) {
	for _, bad := range [][]string{
		nil, {}, {""}, {"users"}, {"users:w"}, {"users:"}, {":r"}, {"_system:r"}, {"a b:r"},
		{"users:r:x"}, {"ADMIN"}, {"**:r"},
	} {
		_, err := ParseScopes(bad)
		require.ErrorIs(t, err, ErrInvalidArgument, "%q", bad)
	}
	many := make([]string, MaxScopes+1)
	for i := range many {
		many[i] = "c" + string(rune('a'+i%26)) + ":r"
	}
	_, err := ParseScopes(many)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestZeroAccessAllowsNothing(t *testing.T) {
	var a Access
	require.False(t, a.CanRead("users"))
	require.False(t, a.CanWrite("users"))
	require.False(t, a.IsAdmin())
	require.False(t, a.CanScrape())
}

// FuzzParseScopes: any scope list parses or is refused with
// INVALID_ARGUMENT, never a panic; what parses lists back the same scopes.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"users:rw,orders:r", "*:r", "*:rw", "admin", "metrics", "users:x", ":r", "a:b:c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		a, err := ParseScopes(strings.Split(joined, ","))
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("error %v is not INVALID_ARGUMENT", err)
			}
			return
		}
		again, err := ParseScopes(a.Scopes())
		if err != nil || !slices.Equal(again.Scopes(), a.Scopes()) {
			t.Fatalf("scopes %q do not parse back: %v", a.Scopes(), err)
		}
	})
}
