package protocol

import (
	"io"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// Loopback benchmarks for BENCHMARKS.md: request/response round trips and
// change-set throughput through a Channel, beside a raw-TCP ceiling doing
// the same exchange without framing, protobuf, crypto or compression.

// serve decodes and answers every request on ch with resp until the connection closes.
func serve(ch *Channel, resp MsgType, m proto.Message) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			t, payload, err := ch.Recv()
			if err != nil {
				return
			}
			if _, err := Decode(t, payload); err != nil {
				return
			}
			if err := ch.Send(resp, m); err != nil {
				return
			}
		}
	}()
	return done
}

// channelPair returns connected client/server channels, secured or not.
func channelPair(b *testing.B, secure bool) (*Channel, *Channel) {
	b.Helper()
	if secure {
		return securePair(b, nil, nil)
	}
	c, s := tcpPair(b)
	return NewChannel(c, 0), NewChannel(s, 0)
}

func noDeadline(chs ...*Channel) {
	for _, ch := range chs {
		_ = ch.Conn().SetDeadline(time.Time{})
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	b.Run("raw-tcp", func(b *testing.B) {
		c, s := tcpPair(b)
		_ = c.SetDeadline(time.Time{})
		_ = s.SetDeadline(time.Time{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 6)
			for {
				if _, err := io.ReadFull(s, buf); err != nil {
					return
				}
				if _, err := s.Write(buf); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 6)
		for b.Loop() {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
		c.Close()
		<-done
	})
	for _, secure := range []bool{false, true} {
		name := "plaintext"
		if secure {
			name = "secure"
		}
		b.Run(name, func(b *testing.B) {
			cc, sc := channelPair(b, secure)
			noDeadline(cc, sc)
			done := serve(sc, ClockRes, &pb.ClockResponse{HlcWall: 1795594600000, HlcLogic: 7, HlcNode: "node-a"})
			var resp pb.ClockResponse
			for b.Loop() {
				if err := cc.Call(GetClockReq, &pb.GetClockRequest{}, ClockRes, &resp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
			cc.Conn().Close()
			<-done
		})
	}
}

// BenchmarkChangeSet1MiB pushes a ~1 MiB change set and waits for the ack;
// MB/s counts the uncompressed protobuf bytes.
func BenchmarkChangeSet1MiB(b *testing.B) {
	cs := &pb.PushChangesRequest{}
	for len(cs.Entries) == 0 || proto.Size(cs) < 1<<20 {
		cs.Entries = append(cs.Entries, bigChangeSet(100).Entries...)
	}
	size := proto.Size(cs)

	b.Run("raw-tcp", func(b *testing.B) {
		c, s := tcpPair(b)
		_ = c.SetDeadline(time.Time{})
		_ = s.SetDeadline(time.Time{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(s, buf); err != nil {
					return
				}
				if _, err := s.Write(buf[:1]); err != nil {
					return
				}
			}
		}()
		payload := make([]byte, size)
		ack := make([]byte, 1)
		b.SetBytes(int64(size))
		for b.Loop() {
			if _, err := c.Write(payload); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, ack); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		<-done
	})
	for _, tc := range []struct {
		name             string
		secure, compress bool
	}{
		{"plaintext", false, false},
		{"plaintext+brotli", false, true},
		{"secure", true, false},
		{"secure+brotli", true, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cc, sc := channelPair(b, tc.secure)
			noDeadline(cc, sc)
			cc.SetCompression(tc.compress)
			sc.SetCompression(tc.compress)
			done := serve(sc, AckRes, &pb.AckResponse{Success: true})
			var ack pb.AckResponse
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := cc.Call(PushChangesReq, cs, AckRes, &ack); err != nil {
					b.Fatal(err)
				}
			}
			cc.Conn().Close()
			<-done
		})
	}
}
