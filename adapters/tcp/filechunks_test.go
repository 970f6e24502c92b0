package tcp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// The prepared chunks carry the file in order, compressed as asked, the
// last one with its size and digest.
func TestPrepareFileChunks(t *testing.T) {
	file := make([]byte, 2*protocol.SnapshotChunkBytes+123)
	_, _ = rand.Read(file[:len(file)/2]) // half incompressible, half zeros
	calls := 0
	every2nd := func() bool { calls++; return calls%2 == 0 }
	out := make(chan fileChunk, chunksAhead)
	go prepareFileChunks(bytes.NewReader(file), int64(len(file)), every2nd, make(chan struct{}), out)
	var got []byte
	var compressed int
	var last *pb.SnapshotChunk
	for ch := range out {
		require.NoError(t, ch.err)
		payload := ch.payload
		if ch.compressed {
			compressed++
			var err error
			payload, err = protocol.Decompress(payload, protocol.DefaultMaxFrameBytes)
			require.NoError(t, err)
		}
		var c pb.SnapshotChunk
		require.NoError(t, proto.Unmarshal(payload, &c))
		require.Equal(t, len(c.GetData()), ch.n)
		require.Equal(t, c.GetIsLast(), ch.last)
		got = append(got, c.GetData()...)
		if ch.last {
			last = &c
		}
	}
	require.Equal(t, file, got)
	require.Equal(t, 1, compressed, "the second of three chunks")
	require.NotNil(t, last)
	sum := sha256.Sum256(file)
	require.Equal(t, int64(len(file)), last.GetFileSize())
	require.Equal(t, sum[:], last.GetFileSha256())
}

// Once stop closes, the preparing goroutine ends without handing out the
// rest.
func TestPrepareFileChunksStops(t *testing.T) {
	file := make([]byte, 10*protocol.SnapshotChunkBytes)
	out := make(chan fileChunk) // unbuffered: it waits on the first hand-out
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		prepareFileChunks(bytes.NewReader(file), int64(len(file)), func() bool { return false }, stop, out)
		close(done)
	}()
	<-out
	close(stop)
	<-done
	_, open := <-out
	require.False(t, open)
}

// The sink writes what it was handed in order, hashes it, and after a
// failed write writes nothing more and reports the failure.
func TestFileSink(t *testing.T) {
	var buf bytes.Buffer
	k := newFileSink(&buf)
	k.write([]byte("abc"))
	k.write([]byte("def"))
	require.NoError(t, k.close())
	require.Equal(t, "abcdef", buf.String())
	sum := sha256.Sum256([]byte("abcdef"))
	require.Equal(t, sum[:], k.sum.Sum(nil))

	fw := &failingWriter{failAt: 2}
	k = newFileSink(fw)
	for range 4 {
		k.write([]byte("x"))
	}
	require.ErrorIs(t, k.close(), errDiskFull)
	require.True(t, k.failed.Load())
	require.Equal(t, 2, fw.calls, "nothing written after the failure")
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{ calls, failAt int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.calls++
	if f.calls >= f.failAt {
		return 0, errDiskFull
	}
	return len(p), nil
}
