package tcp

import (
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// A file snapshot's chunks are read, hashed, marshalled and compressed by
// one goroutine a few chunks ahead of the one that seals and writes them,
// so Brotli runs while the link (and the peer) takes the chunk before; the
// receiver writes and hashes each chunk while it reads the next.

// fileChunk is one SnapshotChunk frame ready to be written.
type fileChunk struct {
	payload    []byte
	compressed bool          // payload is Brotli-compressed
	n          int           // bytes of the file it carries
	prepTook   time.Duration // reading it, hashing, marshalling, compressing
	last       bool
	err        error // reading the file failed; nothing else is set
}

// chunksAhead is how many chunks may wait, prepared, for the writer.
const chunksAhead = 2

// lockedChoice is a compressChoice the preparing goroutine asks and the
// writing one tells what each chunk cost.
type lockedChoice struct {
	mu sync.Mutex
	c  compressChoice
}

func (l *lockedChoice) compress() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.compress()
}

// record notes what a chunk cost: the slower of its two stages, as the
// stages run side by side.
func (l *lockedChoice) record(ch fileChunk, sendTook time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.record(ch.compressed, ch.n, max(ch.prepTook, sendTook))
}

// prepareFileChunks hands out the chunks of f (size bytes at the start)
// in order on out, the last one with the file's size and SHA-256,
// compressing those compress says to; it stops early when stop closes,
// and closes out when done.
func prepareFileChunks(f io.Reader, size int64, compress func() bool, stop <-chan struct{}, out chan<- fileChunk) {
	defer close(out)
	hand := func(ch fileChunk) bool {
		select {
		case out <- ch:
			return !ch.last && ch.err == nil
		case <-stop:
			return false
		}
	}
	sum := sha256.New()
	buf := make([]byte, protocol.SnapshotChunkBytes)
	var sent int64
	for {
		began := time.Now()
		n, err := io.ReadFull(f, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			hand(fileChunk{err: err})
			return
		}
		sum.Write(buf[:n])
		sent += int64(n)
		chunk := &pb.SnapshotChunk{Data: buf[:n]}
		ch := fileChunk{n: n}
		if sent >= size || n < len(buf) {
			chunk.IsLast, chunk.FileSize, chunk.FileSha256 = true, sent, sum.Sum(nil)
			ch.last = true
		}
		// The payload is a copy: buf is read into again while it waits.
		if ch.payload, err = proto.Marshal(chunk); err != nil {
			hand(fileChunk{err: err})
			return
		}
		if len(ch.payload) > protocol.CompressThreshold && compress() {
			ch.payload, ch.compressed = protocol.Compress(ch.payload, fileQuality), true
		}
		ch.prepTook = time.Since(began)
		if !hand(ch) {
			return
		}
	}
}

// fileSink hashes and writes a received file snapshot's chunks on a
// goroutine of its own, in the order they were handed over.
type fileSink struct {
	chunks chan []byte
	done   chan struct{}
	sum    hash.Hash // complete once close returned
	err    error     // the first write error; read after done closes
	failed atomic.Bool
}

func newFileSink(w io.Writer) *fileSink {
	k := &fileSink{chunks: make(chan []byte, chunksAhead), done: make(chan struct{}), sum: sha256.New()}
	go func() {
		defer close(k.done)
		for data := range k.chunks {
			if k.err != nil {
				continue // nothing more is written after a failed write
			}
			k.sum.Write(data)
			if _, err := w.Write(data); err != nil {
				k.err = err
				k.failed.Store(true)
			}
		}
	}()
	return k
}

// write hands data over; it must not change afterwards.
func (k *fileSink) write(data []byte) { k.chunks <- data }

// close waits until what was handed over is written and returns the first
// write error.
func (k *fileSink) close() error {
	close(k.chunks)
	<-k.done
	return k.err
}
