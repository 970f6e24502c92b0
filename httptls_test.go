package entgldb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// openHTTP opens a node of cfg whose HTTP API listens on a free loopback
// port, and returns it with that address.
func openHTTP(t *testing.T, cfg entgldb.Config) (*entgldb.DB, string) {
	t.Helper()
	port, err := nodeproc.FreePort()
	require.NoError(t, err)
	cfg.Http.Enabled = true
	cfg.Http.Address = "127.0.0.1:" + strconv.Itoa(port)
	db, err := entgldb.Open(t.Context(), entgldb.Options{Config: cfg})
	require.NoError(t, err)
	return db, cfg.Http.Address
}

// adminKey is the admin key the node configured by cfg made at its start.
func adminKey(t *testing.T, cfg entgldb.Config) client.Option {
	t.Helper()
	key, err := apikeys.ReadAdminKey(cfg.AdminKeyPath())
	require.NoError(t, err)
	return client.WithKey(key)
}

// TLS round trip: a node with Http.TLSAuto serves HTTPS with a self-signed
// certificate kept beside its database; a client pinning its fingerprint
// works, a wrong pin fails with a *client.PinMismatchError, plain HTTP to
// the port is told to use https, and the certificate survives a restart.
func TestTLSAutoRoundTrip(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cfg := entgldb.LocalConfig(dir)
	cfg.Http.TLSAuto = true
	db, addr := openHTTP(t, cfg)
	defer func() { _ = db.Close() }()

	cfg.Http.Enabled, cfg.Http.Address = true, addr
	cert, created, err := entgldb.HTTPCertificate(cfg)
	require.NoError(t, err)
	require.NotNil(t, cert)
	require.False(t, created, "the node made it at its start")
	st, err := os.Stat(filepath.Join(dir, "tls.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	fromFile, err := client.ParseFingerprint(cert.Fingerprint)
	require.NoError(t, err)
	require.Equal(t, cert.Fingerprint, fromFile)

	admin := adminKey(t, cfg)
	pinned := client.New("https://"+addr, client.WithPin(cert.Fingerprint), admin)
	_, err = pinned.Put(ctx, "users", "ada", []byte(`{"name":"Ada"}`))
	require.NoError(t, err)
	doc, err := pinned.Get(ctx, "users", "ada")
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"Ada"}`, string(doc.Data))

	wrong := client.New("https://"+addr, client.WithPin("00"+cert.Fingerprint[2:]), admin)
	_, err = wrong.Get(ctx, "users", "ada")
	var pm *client.PinMismatchError
	require.ErrorAs(t, err, &pm)
	require.Equal(t, cert.Fingerprint, pm.Got)
	var unreachable *client.UnreachableError
	require.False(t, errors.As(err, &unreachable), "the node answered: it is not unreachable")

	unpinned := client.New("https://"+addr, admin)
	_, err = unpinned.Get(ctx, "users", "ada")
	require.Error(t, err, "a self-signed certificate is not trusted without a pin")

	plain := client.New("http://"+addr, admin)
	_, err = plain.Get(ctx, "users", "ada")
	require.ErrorIs(t, err, domain.ErrInvalidArgument)
	require.Contains(t, err.Error(), "https://")

	// The certificate also works as its own CA for the names it was made for.
	byCA := client.New("https://"+addr, client.WithCA(cert.CertFile), admin)
	_, err = byCA.Get(ctx, "users", "ada")
	require.NoError(t, err)

	pinned.CloseIdle()
	byCA.CloseIdle()
	require.NoError(t, db.Stop(context.Background()))
	require.NoError(t, db.Close())
	db, err = entgldb.Open(ctx, entgldb.Options{Config: cfg})
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	again, _, err := entgldb.HTTPCertificate(cfg)
	require.NoError(t, err)
	require.Equal(t, cert.Fingerprint, again.Fingerprint, "the self-signed certificate is kept across restarts")
	_, err = pinned.Get(ctx, "users", "ada")
	require.NoError(t, err)
	pinned.CloseIdle()
}

// A configuration that would serve plain HTTP where others can reach it is
// refused with CONFIG_ERROR; with the explicit opt-in the node starts and
// its health report carries the warning.
func TestPlainHTTPOnAllInterfacesNeedsTheOptIn(t *testing.T) {
	cfg := entgldb.LocalConfig(t.TempDir())
	cfg.Http.Enabled = true
	cfg.Http.Address = "0.0.0.0:0"
	_, err := entgldb.Open(t.Context(), entgldb.Options{Config: cfg})
	require.ErrorIs(t, err, domain.ErrConfig)
	require.Contains(t, err.Error(), "Http.AllowInsecure")

	cfg.Http.AllowInsecure = true
	db, err := entgldb.Open(t.Context(), entgldb.Options{Config: cfg})
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	r := db.Health(t.Context())
	require.True(t, r.InsecureHTTP)
	require.True(t, r.IsHealthy, "a deliberate setting is a warning, not a failure")
	require.NotEmpty(t, r.Warnings)
	require.Contains(t, r.Warnings[len(r.Warnings)-1], "plain HTTP")
}
