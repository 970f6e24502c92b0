package tcp

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// BenchmarkGetClockRoundTrip measures request/response round trips of the
// smallest request over loopback, over Noise (Go peers) and the v5 modes of
// listed legacy peers, beside the raw-TCP ceiling (a 6-byte ping-pong on a
// bare socket) measured in the same run.
func BenchmarkGetClockRoundTrip(b *testing.B) {
	b.Run("raw-tcp-ceiling", benchRawPingPong)
	for _, mode := range transportModes {
		b.Run(mode.name, func(b *testing.B) {
			srv := startServer(b, &fakeHandler{}, nil, func(o *ServerOptions) {
				o.Secure = mode.secure
				if mode.legacy {
					legacyLoopback(o)
				}
			})
			o := dialerOpts(mode.secure)
			if mode.legacy {
				legacyTo(&o, srv.Addr().String())
			}
			d := newDialer(b, o, nil)
			ctx := context.Background()
			s, err := d.Dial(ctx, srv.Addr().String())
			require.NoError(b, err)
			defer s.Close()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.GetClock(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
		})
	}
}

func benchRawPingPong(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 6)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	buf := make([]byte, 6)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
	_ = c.Close()
	_ = ln.Close()
	<-done
}

// BenchmarkPullChangeSet1MiB measures MB/s of pulling a ~1 MiB ChangeSet of
// JSON documents over loopback with and without Brotli, beside the raw-TCP
// ceiling of moving the same number of bytes each way.
func BenchmarkPullChangeSet1MiB(b *testing.B) {
	entries := jsonEntries(1 << 20)
	size := 0
	for i := range entries {
		size += entries[i].Size()
	}
	b.Run("raw-tcp-ceiling", func(b *testing.B) { benchRawBulk(b, size) })
	for _, compression := range []bool{false, true} {
		b.Run(fmt.Sprint("brotli=", compression), func(b *testing.B) {
			srv := startServer(b, &fakeHandler{pull: entries}, nil, func(o *ServerOptions) { o.Compression = compression })
			o := dialerOpts(false)
			o.Compression = compression
			d := newDialer(b, o, nil)
			ctx := context.Background()
			s, err := d.Dial(ctx, srv.Addr().String())
			require.NoError(b, err)
			defer s.Close()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				got, err := s.PullChanges(ctx, ports.PullRequest{})
				if err != nil || len(got) != len(entries) {
					b.Fatal(err, len(got))
				}
			}
		})
	}
}

// jsonEntries builds entries of realistic JSON documents totalling about n bytes.
func jsonEntries(n int) []domain.Entry {
	var out []domain.Entry
	total, prev := 0, ""
	for i := 0; total < n; i++ {
		e := domain.Entry{
			Collection: "users",
			Key:        "user-" + strconv.Itoa(i),
			Op:         domain.OpPut,
			Data: []byte(fmt.Sprintf(`{"id":"user-%d","name":"User number %d","email":"user%d@example.com","age":%d,"tags":["alpha","beta","gamma"],"address":{"city":"Springfield","zip":"%05d"}}`,
				i, i, i, 20+i%60, i%100000)),
			Stamp: domain.Timestamp{Wall: 1764000000000 + int64(i), Node: "author-a"},
		}
		e.Seal(prev)
		prev = e.Hash
		total += e.Size()
		out = append(out, e)
	}
	return out
}

func benchRawBulk(b *testing.B, size int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req := make([]byte, 1)
		payload := make([]byte, size)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			if _, err := c.Write(payload); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write([]byte{1}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.Close()
	_ = ln.Close()
	<-done
}
