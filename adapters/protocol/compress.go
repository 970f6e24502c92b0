package protocol

import (
	"bytes"
	"io"
	"sync"

	"github.com/andybalholm/brotli"

	"github.com/entgldb/entgldb-go/domain"
)

// CompressionBrotli is the only compression name the protocol negotiates.
const CompressionBrotli = "brotli"

// CompressThreshold: payloads of at most this many bytes are sent as they
// are even after negotiation (PROTOCOL.md §5).
const CompressThreshold = 1024

// DefaultBrotliQuality trades ratio for speed: q1 compresses JSON change
// sets 4–5× at ~230 MB/s (FIELD-NOTES), higher levels cost 3× the CPU.
const DefaultBrotliQuality = 1

// writers pools Brotli encoders per quality: a fresh encoder allocates and
// zeroes its hash tables (3 MB at q1), which cost 4× the compression itself
// on a 600 KB page; Reset keeps them.
var writers [12]sync.Pool

// readers pools Brotli decoders for the same reason (input buffer, Huffman
// tables).
var readers sync.Pool

// Compress returns payload Brotli-compressed at the given quality (0–11).
func Compress(payload []byte, quality int) []byte {
	quality = max(0, min(quality, 11))
	var buf bytes.Buffer
	buf.Grow(len(payload)/3 + 64)
	w, _ := writers[quality].Get().(*brotli.Writer)
	if w == nil {
		w = brotli.NewWriterLevel(&buf, quality)
	} else {
		w.Reset(&buf)
	}
	// Writes to a bytes.Buffer cannot fail.
	_, _ = w.Write(payload)
	_ = w.Close()
	w.Reset(nil) // drop buf
	writers[quality].Put(w)
	return buf.Bytes()
}

// decompressChunk is the unit in which decompressed output is collected.
const decompressChunk = 64 << 10

// Decompress inflates a Brotli payload, refusing (TOO_LARGE) as soon as the
// output would exceed maxBytes. Output is collected in fixed chunks as the
// decoder produces it, so a 108-byte bomb that expands to 64 MiB costs about
// maxBytes plus the decoder's window (≤ 16 MiB; 4 MiB for the bomb of the
// vectors), never what it expands to. (bytes.Buffer.ReadFrom's growth
// policy allocated 70 MB for a 16 MiB cap.)
func Decompress(payload []byte, maxBytes int) ([]byte, error) {
	const op = "protocol.Decompress"
	r, _ := readers.Get().(*brotli.Reader)
	if r == nil {
		r = brotli.NewReader(bytes.NewReader(payload))
	} else {
		_ = r.Reset(bytes.NewReader(payload))
	}
	defer func() {
		_ = r.Reset(nil) // drop payload
		readers.Put(r)
	}()
	var chunks [][]byte
	total := 0
	for {
		size := min(decompressChunk, maxBytes+1-total)
		if chunks == nil {
			size = min(size, max(8*len(payload), 4096)) // small messages stay small
		}
		if size == 0 {
			return nil, domain.Errorf(domain.CodeTooLarge, op, "Brotli payload expands beyond the %d byte limit", maxBytes)
		}
		chunk := make([]byte, size)
		n, err := readFull(r, chunk)
		total += n
		chunks = append(chunks, chunk[:n])
		if err == io.EOF {
			if len(chunks) == 1 {
				return chunks[0], nil
			}
			return bytes.Join(chunks, nil), nil
		}
		if err != nil {
			return nil, domain.Errorf(domain.CodeNetwork, op, "corrupt Brotli payload: %w", err)
		}
	}
}

// readFull fills p like io.ReadFull but reports the end of the stream as a
// plain io.EOF whatever was read, so it stays distinct from the decoder's
// io.ErrUnexpectedEOF for a truncated stream.
func readFull(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
