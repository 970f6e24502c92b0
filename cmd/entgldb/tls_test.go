package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/tlscert"
)

// `tls fingerprint` prints what clients pin, from the files of the node
// configured in the working directory or a given certificate; a node
// without TLS has none (CONFIG_ERROR, exit 2).
func TestTLSFingerprintCommand(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, errOut, code := runCLI(t, "", "tls", "fingerprint")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "error CONFIG_ERROR: ")
	require.Contains(t, errOut, "Http.TLSAuto")

	cert, _, err := tlscert.LoadOrCreateSelfSigned(filepath.Join(dir, "data", "tls.crt"), filepath.Join(dir, "data", "tls.key"), nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("appsettings.json", []byte(`{"EntglDb":{"Http":{"TLSAuto":true}}}`), 0o600))
	out, errOut, code := runCLI(t, "", "tls", "fingerprint")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, cert.Fingerprint+"\n", out)

	out, _, code = runCLI(t, "", "tls", "fingerprint", "--cert", cert.CertFile)
	require.Equal(t, exitOK, code)
	require.Equal(t, cert.Fingerprint+"\n", out)
}

// A malformed --pin is a usage error, never an unpinned request.
func TestMalformedPinIsRefused(t *testing.T) {
	_, errOut, code := runCLI(t, "", "--node", "https://127.0.0.1:1", "--pin", "nope", "get", "c", "k")
	require.Equal(t, exitUsage, code, errOut)
	require.True(t, strings.HasPrefix(errOut, "error INVALID_ARGUMENT: "), errOut)
}

// The local node's certificate is pinned only for a loopback address.
func TestLoopbackURL(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5080": true, "https://127.0.0.1:5080": true, "https://localhost:5080/": true,
		"https://[::1]:5080": true, "localhost": true, "https://db.lan:5080": false, "10.0.0.2:5080": false,
	} {
		require.Equal(t, want, loopbackURL(addr), addr)
	}
}
