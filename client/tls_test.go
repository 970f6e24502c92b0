package client

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

func TestFingerprintFormsAreOneValue(t *testing.T) {
	der := []byte("a certificate")
	fp := Fingerprint(der)
	require.Len(t, fp, sha256.Size*3-1)
	require.Equal(t, strings.ToUpper(fp), fp)
	plain := strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	for _, in := range []string{fp, strings.ToLower(fp), plain, "sha256:" + plain, " " + fp + "\n"} {
		got, err := ParseFingerprint(in)
		require.NoError(t, err, in)
		require.Equal(t, fp, got, in)
	}
	for _, bad := range []string{"", "AB:CD", plain[:62], plain + "00", strings.Replace(plain, plain[:1], "z", 1)} {
		_, err := ParseFingerprint(bad)
		require.ErrorIs(t, err, domain.ErrInvalidArgument, bad)
	}
}

// A malformed pin or CA file never becomes an unpinned connection: every
// request fails before anything is sent.
func TestBadTLSOptionsFailEveryRequest(t *testing.T) {
	for name, opt := range map[string]Option{
		"pin": WithPin("not a fingerprint"),
		"ca":  WithCA("/nonexistent/ca.pem"),
	} {
		c := New("https://127.0.0.1:1", opt)
		_, err := c.Collections(t.Context())
		require.ErrorIs(t, err, domain.ErrInvalidArgument, name)
	}
}
