package protocol

import (
	"bytes"
	"io"
	"sync"
	"time"

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

// Brotli coders are expensive to build (a q1 encoder allocates and zeroes
// 3 MB of tables, a decoder its ring buffer) and cheap to Reset, so the
// last few are kept for the next message. Not in a sync.Pool: a bootstrap
// keeps the heap small and collects every ~10 ms, and a pool loses its
// contents every other cycle, which had each 600 KB page pay for fresh
// tables. Kept coders are dropped after coderIdle without use.
const (
	keptCoders = 2
	coderIdle  = 10 * time.Second
	// keptScratch bounds the output buffer a kept decoder holds (and so
	// its ring buffer, which a stream sizes to its output).
	keptScratch = 4 << 20
)

var (
	encoders [12]keep[*brotli.Writer] // by quality
	decoders keep[*decoder]
)

// decoder is a Brotli reader with a reusable output buffer.
type decoder struct {
	r       *brotli.Reader
	scratch []byte
}

// keep is a small LIFO of reusable values, emptied after idle time.
type keep[T any] struct {
	mu    sync.Mutex
	free  []T
	timer *time.Timer
}

func (k *keep[T]) get() (x T, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := len(k.free)
	if n == 0 {
		return x, false
	}
	x = k.free[n-1]
	clear(k.free[n-1:])
	k.free = k.free[:n-1]
	return x, true
}

func (k *keep[T]) put(x T) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.free) < keptCoders {
		k.free = append(k.free, x)
	}
	if k.timer == nil {
		k.timer = time.AfterFunc(coderIdle, k.drop)
	} else {
		k.timer.Reset(coderIdle)
	}
}

func (k *keep[T]) drop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.free)
	k.free = nil
}

// Compress returns payload Brotli-compressed at the given quality (0–11).
func Compress(payload []byte, quality int) []byte {
	quality = max(0, min(quality, 11))
	var buf bytes.Buffer
	buf.Grow(len(payload)/3 + 64)
	w, ok := encoders[quality].get()
	if ok {
		w.Reset(&buf)
	} else {
		w = brotli.NewWriterLevel(&buf, quality)
	}
	// Writes to a bytes.Buffer cannot fail.
	_, _ = w.Write(payload)
	_ = w.Close()
	w.Reset(nil) // drop buf
	encoders[quality].put(w)
	return buf.Bytes()
}

// decompressChunk is the unit in which decompressed output is collected
// beyond a kept decoder's buffer.
const decompressChunk = 64 << 10

// Decompress inflates a Brotli payload, refusing (TOO_LARGE) as soon as the
// output would exceed maxBytes. Output is collected in fixed chunks as the
// decoder produces it, so a 108-byte bomb that expands to 64 MiB costs about
// maxBytes plus the decoder's window (≤ 16 MiB; 4 MiB for the bomb of the
// vectors), never what it expands to. (bytes.Buffer.ReadFrom's growth
// policy allocated 70 MB for a 16 MiB cap.) A kept decoder's buffer, sized
// by earlier messages, takes the first part; the result is then copied out
// once, at its exact size.
func Decompress(payload []byte, maxBytes int) ([]byte, error) {
	const op = "protocol.Decompress"
	d, ok := decoders.get()
	if ok {
		_ = d.r.Reset(bytes.NewReader(payload))
	} else {
		d = &decoder{r: brotli.NewReader(bytes.NewReader(payload))}
	}
	var chunks [][]byte
	total := 0
	for {
		var chunk []byte
		if chunks == nil && len(d.scratch) > 0 {
			chunk = d.scratch[:min(len(d.scratch), maxBytes+1)]
		} else {
			size := min(decompressChunk, maxBytes+1-total)
			if chunks == nil {
				size = min(size, max(8*len(payload), 4096)) // small messages stay small
			}
			if size == 0 {
				return nil, domain.Errorf(domain.CodeTooLarge, op, "Brotli payload expands beyond the %d byte limit", maxBytes)
			}
			chunk = make([]byte, size)
		}
		n, err := readFull(d.r, chunk)
		total += n
		chunks = append(chunks, chunk[:n])
		if err == io.EOF {
			var out []byte
			if len(chunks) == 1 && len(d.scratch) == 0 {
				out = chunks[0] // allocated for this message: no copy needed
			} else {
				out = bytes.Join(chunks, nil)
			}
			d.keep(total)
			return out, nil
		}
		if err != nil {
			return nil, domain.Errorf(domain.CodeNetwork, op, "corrupt Brotli payload: %w", err)
		}
	}
}

// keep returns d to the kept decoders after a successful message of n
// bytes, with a buffer that would have held it whole, unless that is big.
func (d *decoder) keep(n int) {
	_ = d.r.Reset(nil) // drop the payload
	if n > keptScratch {
		return
	}
	if n >= len(d.scratch) {
		// Room for this size and a little more, so a stream of similar
		// pages fits without a second chunk; +1 so that a full buffer
		// means "more may follow".
		d.scratch = make([]byte, n+n/4+1)
	}
	decoders.put(d)
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
