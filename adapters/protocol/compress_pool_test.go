package protocol

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/domain"
)

// Compress and Decompress reuse kept Brotli coders: a coder left behind by
// a failed or capped decode, or by another quality, must not leak state into
// the next payload, and a decoder's reused buffer must not be what it
// returned earlier.
func TestPooledCodersStayClean(t *testing.T) {
	page, err := proto.Marshal(benchPage())
	require.NoError(t, err)
	small := []byte(`{"a":"` + string(bytes.Repeat([]byte("z"), 3000)) + `"}`)
	var earlier [][]byte // outputs returned so far, with their inputs
	for round := range 3 {
		for _, q := range []int{DefaultBrotliQuality, 5, 0} {
			for _, payload := range [][]byte{page, small} {
				comp := Compress(payload, q)

				// A truncated stream fails, a capped one is TOO_LARGE ...
				_, err := Decompress(comp[:len(comp)/2], DefaultMaxFrameBytes)
				require.Error(t, err, "round %d q%d", round, q)
				_, err = Decompress(comp, len(payload)-1)
				assert.Equal(t, domain.CodeTooLarge, domain.CodeOf(err))

				// ... and the next decodes of the whole stream are exact.
				for range 2 {
					out, err := Decompress(comp, DefaultMaxFrameBytes)
					require.NoError(t, err)
					require.True(t, bytes.Equal(payload, out), "round %d q%d: payload differs", round, q)
					earlier = append(earlier, out, payload)
				}
			}
		}
	}
	for i := 0; i < len(earlier); i += 2 {
		require.True(t, bytes.Equal(earlier[i+1], earlier[i]), "output %d was overwritten by a later decode", i/2)
	}
}
