package apikeys

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

func openStore(t *testing.T, dir string) (*Store, bool) {
	t.Helper()
	s, created, err := Open(filepath.Join(dir, "api-keys.json"), filepath.Join(dir, "admin.key"))
	require.NoError(t, err)
	return s, created
}

func TestAdminKeyIsMadeOnceAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, created := openStore(t, dir)
	require.True(t, created)
	admin, err := ReadAdminKey(filepath.Join(dir, "admin.key"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(admin, Prefix+AdminID+"_"), admin)
	requireMode(t, filepath.Join(dir, "admin.key"), 0o600)
	requireMode(t, dir, 0o700)

	id, access, ok := s.Authenticate(admin)
	require.True(t, ok)
	require.Equal(t, AdminID, id)
	require.True(t, access.IsAdmin())

	again, created := openStore(t, dir)
	require.False(t, created, "the second start keeps the key")
	_, _, ok = again.Authenticate(admin)
	require.True(t, ok)
}

func TestConcurrentFirstStartsAgreeOnTheAdminKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.key")
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, _, err := LoadOrCreateAdminKey(path)
			require.NoError(t, err)
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		require.Equal(t, keys[0], k)
	}
}

func TestAnOperatorWrittenAdminKeyIsUsed(t *testing.T) {
	dir := t.TempDir()
	const key = "an-operator-provisioned-admin-key-of-enough-length-0123"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "admin.key"), []byte(key+"\n"), 0o600))
	s, created := openStore(t, dir)
	require.False(t, created)
	_, access, ok := s.Authenticate(key)
	require.True(t, ok)
	require.True(t, access.IsAdmin())
}

func TestAdminKeyFilesThatAreRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.key")
	require.NoError(t, os.WriteFile(path, []byte("short\n"), 0o600))
	_, _, err := Open(filepath.Join(dir, "api-keys.json"), path)
	require.ErrorIs(t, err, domain.ErrConfig)

	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("k", 60)), 0o600))
	require.NoError(t, os.Chmod(path, 0o644))
	_, _, err = Open(filepath.Join(dir, "api-keys.json"), path)
	require.ErrorIs(t, err, domain.ErrConfig, "readable by others")
	require.Contains(t, err.Error(), "chmod 600")
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	info, key, err := s.Create("app", []string{"users:rw", "orders:r"})
	require.NoError(t, err)
	require.Equal(t, "app", info.Name)
	require.Equal(t, []string{"users:rw", "orders:r"}, info.Scopes)
	require.True(t, strings.HasPrefix(key, Prefix+info.ID+"_"))

	id, access, ok := s.Authenticate(key)
	require.True(t, ok)
	require.Equal(t, info.ID, id)
	require.True(t, access.CanWrite("users"))
	require.True(t, access.CanRead("orders"))
	require.False(t, access.CanWrite("orders"))
	require.False(t, access.IsAdmin())
	require.True(t, s.Active(id))

	// The last character changed (to one it is not: keys are random, and
	// one in 64 ends in any given character).
	last := "A"
	if strings.HasSuffix(key, last) {
		last = "B"
	}
	for _, wrong := range []string{"", key + "x", key[:len(key)-1] + last, strings.Replace(key, info.ID, "0000000000000000", 1),
		"Bearer " + key, strings.Repeat("a", MaxKeyLen+1)} {
		_, _, ok := s.Authenticate(wrong)
		require.False(t, ok, wrong)
	}

	list := s.List()
	require.Len(t, list, 1)
	require.Equal(t, info.ID, list[0].ID)
	require.False(t, list[0].LastUsed.IsZero(), "the key was used")

	// The file holds the hash, never the key.
	file := filepath.Join(dir, "api-keys.json")
	requireMode(t, file, 0o600)
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NotContains(t, string(raw), key)
	require.NotContains(t, string(raw), key[len(Prefix)+len(info.ID)+1:], "nor its secret part")
	require.Contains(t, string(raw), hashOf(key).String())

	// A restart reads it back.
	again, _ := openStore(t, dir)
	_, _, ok = again.Authenticate(key)
	require.True(t, ok)

	require.NoError(t, s.Revoke(info.ID))
	_, _, ok = s.Authenticate(key)
	require.False(t, ok, "revoked at once")
	require.False(t, s.Active(info.ID))
	require.ErrorIs(t, s.Revoke(info.ID), domain.ErrNotFound)
	require.ErrorIs(t, s.Revoke(AdminID), domain.ErrInvalidArgument)

	afterRestart, _ := openStore(t, dir)
	_, _, ok = afterRestart.Authenticate(key)
	require.False(t, ok, "and for good")
	require.Empty(t, afterRestart.List())
}

func TestCreateRefusesBadInput(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	for _, c := range []struct {
		name   string
		scopes []string
	}{
		{"", []string{"users:r"}},
		{strings.Repeat("n", MaxNameLen+1), []string{"users:r"}},
		{"has space", []string{"users:r"}},
		{"app", nil},
		{"app", []string{"users:x"}},
		{"app", []string{"bad/name:r"}},
	} {
		_, _, err := s.Create(c.name, c.scopes)
		require.ErrorIs(t, err, domain.ErrInvalidArgument, "%q %q", c.name, c.scopes)
	}
	require.Empty(t, s.List())
}

func TestABrokenKeyFileStopsTheStart(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{",
		"other version": `{"version":2,"keys":[]}`,
		"unknown field": `{"version":1,"keys":[],"extra":1}`,
		"bad hash":      `{"version":1,"keys":[{"id":"0123456789abcdef","name":"a","hash":"md5:00","scopes":["a:r"],"created_at":"2026-01-01T00:00:00Z"}]}`,
		"bad scope":     `{"version":1,"keys":[{"id":"0123456789abcdef","name":"a","hash":"sha256:` + strings.Repeat("0", 64) + `","scopes":["a:x"],"created_at":"2026-01-01T00:00:00Z"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "api-keys.json"), []byte(content), 0o600))
			_, _, err := Open(filepath.Join(dir, "api-keys.json"), filepath.Join(dir, "admin.key"))
			require.ErrorIs(t, err, domain.ErrConfig)
		})
	}
}

func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, st.Mode().Perm(), path)
}
