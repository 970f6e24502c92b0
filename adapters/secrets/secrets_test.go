package secrets_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/secrets"
	"github.com/entgldb/entgldb-go/domain"
)

func TestLoadOrCreateMakesAPrivateTokenOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "cluster.secret")
	tok, created, err := secrets.LoadOrCreate(path)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, secrets.CheckToken(tok))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), dir.Mode().Perm())

	again, created, err := secrets.LoadOrCreate(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, tok, again)
}

func TestTokensDiffer(t *testing.T) {
	a, err := secrets.NewToken()
	require.NoError(t, err)
	b, err := secrets.NewToken()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	require.Len(t, a, 43)
}

func TestConcurrentFirstStartsAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.secret")
	const n = 8
	toks := make([]string, n)
	var created int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok, c, err := secrets.LoadOrCreate(path)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			toks[i] = tok
			if c {
				created++
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, created)
	for _, tok := range toks {
		require.Equal(t, toks[0], tok)
	}
}

func TestCheckTokenRefusesWhatIsNotAToken(t *testing.T) {
	good, err := secrets.NewToken()
	require.NoError(t, err)
	for _, bad := range []string{"", "secret", good[:42], good + "A", "!" + good[1:]} {
		err := secrets.CheckToken(bad)
		require.ErrorIs(t, err, domain.ErrInvalidArgument, bad)
		require.NotContains(t, err.Error(), good[:20], "the error does not echo the token")
	}
}

func TestJoin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.secret")
	tok, err := secrets.NewToken()
	require.NoError(t, err)
	require.ErrorIs(t, secrets.Join(path, "short"), domain.ErrConfig)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "a bad token writes nothing")

	require.NoError(t, secrets.Join(path, tok))
	got, err := secrets.Read(path)
	require.NoError(t, err)
	require.Equal(t, tok, got)
	require.NoError(t, secrets.Join(path, tok), "joining the same cluster again is fine")

	other, err := secrets.NewToken()
	require.NoError(t, err)
	require.ErrorIs(t, secrets.Join(path, other), domain.ErrConfig)
	got, err = secrets.Read(path)
	require.NoError(t, err)
	require.Equal(t, tok, got, "the first cluster's secret is kept")
}

func TestReadRefusesFilesOthersCanRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.secret")
	tok, err := secrets.NewToken()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(tok+"\n"), 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = secrets.Read(path)
	require.ErrorIs(t, err, domain.ErrConfig)
	require.Contains(t, err.Error(), "chmod 600")

	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, os.WriteFile(path, []byte("not a token\n"), 0o600))
	_, err = secrets.Read(path)
	require.ErrorIs(t, err, domain.ErrConfig)
	_, err = secrets.Read(filepath.Join(t.TempDir(), "none"))
	require.ErrorIs(t, err, domain.ErrNotFound)
}
