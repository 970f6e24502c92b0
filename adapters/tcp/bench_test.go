package tcp

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkGetClockRoundTrip measures request/response round trips of the
// smallest request over loopback, plaintext and secure, beside the raw-TCP
// ceiling (a 6-byte ping-pong on a bare socket) measured in the same run.
func BenchmarkGetClockRoundTrip(b *testing.B) {
	b.Run("raw-tcp-ceiling", benchRawPingPong)
	for _, mode := range []struct {
		name   string
		secure bool
	}{{"plaintext", false}, {"secure", true}} {
		b.Run(mode.name, func(b *testing.B) {
			srv := startServer(b, &fakeHandler{}, nil, func(o *ServerOptions) { o.Secure = mode.secure })
			d := newDialer(b, dialerOpts(mode.secure), nil)
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
