package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

func paths(t *testing.T) (dir, certFile, keyFile string) {
	dir = filepath.Join(t.TempDir(), "data")
	return dir, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
}

// The self-signed certificate is made once, privately, for the given
// names, and read back unchanged on the next start.
func TestSelfSignedIsMadeOnceAndKept(t *testing.T) {
	dir, certFile, keyFile := paths(t)
	c, created, err := LoadOrCreateSelfSigned(certFile, keyFile, []string{"localhost", "127.0.0.1", "::1", "db.lan", "db.lan", "10.0.0.7"})
	require.NoError(t, err)
	require.True(t, created)
	for path, mode := range map[string]os.FileMode{dir: 0o700, keyFile: 0o600, certFile: 0o600} {
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, mode, st.Mode().Perm(), path)
	}

	leaf, err := x509.ParseCertificate(c.TLS.Certificate[0])
	require.NoError(t, err)
	require.Equal(t, []string{"localhost", "db.lan"}, leaf.DNSNames)
	require.Len(t, leaf.IPAddresses, 3)
	require.True(t, leaf.IPAddresses[2].Equal(net.ParseIP("10.0.0.7")))
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok)
	require.Equal(t, elliptic.P256(), pub.Curve)
	require.Greater(t, time.Until(leaf.NotAfter), 10*365*24*time.Hour)
	require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage)
	require.Equal(t, client.Fingerprint(leaf.Raw), c.Fingerprint)

	again, created, err := LoadOrCreateSelfSigned(certFile, keyFile, []string{"other"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, c.Fingerprint, again.Fingerprint)
	fp, err := ReadFingerprint(certFile)
	require.NoError(t, err)
	require.Equal(t, c.Fingerprint, fp)

	// It verifies against itself as a CA for its names.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "db.lan"})
	require.NoError(t, err)
}

// A kept key others may read, or half a pair, is refused with CONFIG_ERROR
// rather than used or silently replaced.
func TestSelfSignedRefusesUnsafeOrHalfPairs(t *testing.T) {
	_, certFile, keyFile := paths(t)
	_, _, err := LoadOrCreateSelfSigned(certFile, keyFile, nil)
	require.NoError(t, err)

	require.NoError(t, os.Chmod(keyFile, 0o644))
	_, _, err = LoadOrCreateSelfSigned(certFile, keyFile, nil)
	require.ErrorIs(t, err, domain.ErrConfig)
	require.Contains(t, err.Error(), "chmod 600")

	require.NoError(t, os.Remove(keyFile))
	_, _, err = LoadOrCreateSelfSigned(certFile, keyFile, nil)
	require.ErrorIs(t, err, domain.ErrConfig)
	require.Contains(t, err.Error(), "only one of")
}

// Load takes an operator's PEM files; a mismatched or missing pair is a
// CONFIG_ERROR naming the files.
func TestLoadOperatorFiles(t *testing.T) {
	_, certFile, keyFile := paths(t)
	made, _, err := LoadOrCreateSelfSigned(certFile, keyFile, nil)
	require.NoError(t, err)
	got, err := Load(certFile, keyFile)
	require.NoError(t, err)
	require.Equal(t, made.Fingerprint, got.Fingerprint)

	_, other, otherKey := paths(t)
	_, _, err = LoadOrCreateSelfSigned(other, otherKey, nil)
	require.NoError(t, err)
	_, err = Load(certFile, otherKey)
	require.ErrorIs(t, err, domain.ErrConfig)
	require.Contains(t, err.Error(), certFile)

	_, err = Load(certFile+".missing", keyFile)
	require.ErrorIs(t, err, domain.ErrConfig)
	_, err = ReadFingerprint(certFile + ".missing")
	require.ErrorIs(t, err, domain.ErrNotFound)
	require.NoError(t, os.WriteFile(certFile+".junk", []byte("not pem"), 0o600))
	_, err = ReadFingerprint(certFile + ".junk")
	require.ErrorIs(t, err, domain.ErrConfig)
}

func TestServerConfigFloorsTheVersion(t *testing.T) {
	cfg := ServerConfig(Cert{})
	require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	require.Equal(t, []string{"http/1.1"}, cfg.NextProtos)
}
