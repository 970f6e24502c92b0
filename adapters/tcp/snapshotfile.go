package tcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// File snapshots between Go nodes: a server whose handler can copy its
// database offers CapSnapshotFile in its Noise handshake answer; a client
// that saw it may ask GetSnapshotRequest{format: SnapshotFormatFile} and
// gets the file as SnapshotChunk frames, the last one carrying the file's
// size and SHA-256. Peers of the C#/TypeScript family never see the
// capability, so they keep the JSON snapshot and the entry path.

// clientCapabilities are what a dialing Go node offers (it can receive
// file snapshots); informational, the server decides what it serves.
var clientCapabilities = []string{protocol.CapSnapshotFile}

// maxSnapshotFileBytes caps a downloaded file snapshot: it goes to disk,
// not memory, but a peer must not fill the disk without end.
const maxSnapshotFileBytes = 1 << 36

var _ ports.SnapshotFileSession = (*Session)(nil)

// fileQuality is the Brotli quality of a file snapshot's chunks sent
// compressed (compressChoice picks them): the receiver inflates quality 2
// several times faster than quality 1, for a little more of the sender's
// time, and the two run side by side.
const fileQuality = 2

// capabilities are what this server offers a Go peer in its handshake.
func (s *Server) capabilities() []string {
	if fs, ok := s.handler.(ports.SnapshotFileServer); ok && fs.ServesSnapshotFiles() {
		return []string{protocol.CapSnapshotFile}
	}
	return nil
}

// streamSnapshotFile sends a fresh copy of the database as SnapshotChunk
// frames; the copy is removed afterwards. Only a Go peer on a Noise
// channel gets one (the capability was offered to no one else).
func (c *serverConn) streamSnapshotFile() error {
	fs, ok := c.s.handler.(ports.SnapshotFileServer)
	if !ok || c.peer.Legacy || c.ch.ChannelBinding() == nil || !fs.ServesSnapshotFiles() {
		c.log.Warn("file snapshot asked for but not offered; closing connection")
		return errClose
	}
	release, ok := c.snapshotSlot()
	if !ok {
		return errClose
	}
	defer release()
	path, err := fs.SnapshotFile(c.s.ctx, c.peer, protocol.SnapshotClusterTag(c.s.opts.Trust.PSK))
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(path) }()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// Chunks come compressed or not as prepareFileChunks chose: the
	// channel compresses none of them itself.
	negotiated := c.ch.Compressing()
	c.ch.SetCompression(false)
	defer c.ch.SetCompression(negotiated)
	var choice lockedChoice
	compress := func() bool { return negotiated && choice.compress() }
	chunks := make(chan fileChunk, chunksAhead)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// The preparing goroutine is done before the file closes.
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() { prepareFileChunks(f, fi.Size(), compress, stop, chunks) })
	var sent int64
	for ch := range chunks {
		if ch.err != nil {
			return ch.err
		}
		began := time.Now()
		if err := c.sendChunk(ch); err != nil {
			return err
		}
		choice.record(ch, time.Since(began))
		sent += int64(ch.n)
		if ch.last {
			c.log.Debug("file snapshot sent", zap.Int64("bytes", sent))
			return nil
		}
	}
	return errors.New("file snapshot: chunks ended before the last one")
}

// sendChunk writes a prepared chunk of a file snapshot.
func (c *serverConn) sendChunk(ch fileChunk) error {
	if err := c.writeDeadline(); err != nil {
		return err
	}
	if ch.compressed {
		return c.ch.SendCompressed(protocol.SnapshotChunkMsg, ch.payload)
	}
	return c.ch.SendRaw(protocol.SnapshotChunkMsg, ch.payload)
}

// OffersSnapshotFile reports whether the peer offered file snapshots in
// its handshake answer.
func (s *Session) OffersSnapshotFile() bool {
	return s.c != nil && !s.c.legacy && protocol.HasCapability(s.c.caps, protocol.CapSnapshotFile)
}

// SnapshotCluster is the cluster tag of the key this session was
// authenticated with.
func (s *Session) SnapshotCluster() string { return protocol.SnapshotClusterTag(s.d.opts.Trust.PSK) }

// FetchSnapshotFile downloads the peer's file snapshot into w. Each chunk
// must arrive within RequestTimeout; the size and SHA-256 the last chunk
// announces must match what arrived.
func (s *Session) FetchSnapshotFile(ctx context.Context, w io.Writer) (int64, error) {
	const op = "tcp.FetchSnapshotFile"
	if !s.OffersSnapshotFile() {
		return 0, domain.Errorf(domain.CodeSync, op, "peer did not offer file snapshots")
	}
	var res pb.SnapshotChunk
	if err := s.request(ctx, op, protocol.GetSnapshotReq, &pb.GetSnapshotRequest{Format: protocol.SnapshotFormatFile},
		protocol.SnapshotChunkMsg, &res); err != nil {
		return 0, err
	}
	// Written and hashed behind the reading: the next chunk is read,
	// opened and inflated meanwhile.
	sink := newFileSink(w)
	var n int64
	for {
		data := res.GetData()
		n += int64(len(data))
		if n > maxSnapshotFileBytes {
			_ = sink.close()
			s.c.broken = true
			s.c.close()
			return n, domain.Errorf(domain.CodeTooLarge, op, "file snapshot from %s exceeds %d bytes", s.c.address, int64(maxSnapshotFileBytes))
		}
		if sink.failed.Load() {
			break // the write error is returned below
		}
		sink.write(data)
		if res.GetIsLast() {
			break
		}
		stop := s.c.bound(ctx, s.d.opts.RequestTimeout)
		res.Reset()
		err := s.receive(ctx, op, protocol.SnapshotChunkMsg, &res)
		stop()
		if err != nil {
			_ = sink.close()
			return n, err
		}
	}
	if err := sink.close(); err != nil {
		// The rest of the stream is unread: the session is unusable.
		s.c.broken = true
		s.c.close()
		return n, domain.Wrap(domain.CodePersistence, op, err)
	}
	if res.GetFileSize() != n || !bytes.Equal(res.GetFileSha256(), sink.sum.Sum(nil)) {
		return n, domain.Errorf(domain.CodeCorruption, op, "file snapshot from %s: %d bytes arrived, their digest does not match what the peer announced", s.c.address, n)
	}
	return n, nil
}
