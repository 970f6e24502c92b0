package protocol

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// A proof made without any private key, against a small-order key, would
// verify for a share of channel bindings; such keys are refused outright.
func TestSmallOrderKeyProvesNothing(t *testing.T) {
	zeroProof := make([]byte, ed25519.SignatureSize)
	forged := 0
	for i := range 64 {
		binding := make([]byte, bindingSize)
		binding[0] = byte(i)
		if ed25519.Verify(make([]byte, 32), identityMessage(RoleClient, binding, "n"), zeroProof) {
			forged++
		}
		for _, y := range smallOrderY {
			for _, sign := range []byte{0, 0x80} {
				k := y
				k[31] |= sign
				err := VerifyProof(k[:], RoleClient, binding, "n", zeroProof)
				require.ErrorIs(t, err, domain.ErrUnauthorized)
			}
		}
	}
	assert.NotZero(t, forged, "control: crypto/ed25519 alone accepts the forgery for some bindings")

	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	assert.False(t, isSmallOrderKey(pub))
}
