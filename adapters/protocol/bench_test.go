package protocol

import (
	"io"
	"net"
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

// channelPair returns connected client/server channels in the given mode:
// "plaintext", "secure" (the legacy P-256 exchange) or "noise".
func channelPair(b *testing.B, mode string) (*Channel, *Channel) {
	b.Helper()
	switch mode {
	case "secure":
		return securePair(b, nil, nil)
	case "noise":
		return noisePair(b)
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
	for _, mode := range []string{"plaintext", "secure", "noise"} {
		b.Run(mode, func(b *testing.B) {
			cc, sc := channelPair(b, mode)
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
		name, mode string
		compress   bool
	}{
		{"plaintext", "plaintext", false},
		{"plaintext+brotli", "plaintext", true},
		{"secure", "secure", false},
		{"secure+brotli", "secure", true},
		{"noise", "noise", false},
		{"noise+brotli", "noise", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cc, sc := channelPair(b, tc.mode)
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

// BenchmarkHandshake is the handshake row: the whole Go↔Go handshake (Noise
// with the cluster key, then HandshakeReq/Res carrying both identity proofs,
// signed and verified) beside the legacy P-256 key exchange alone, each on a
// fresh in-memory connection (TCP connection setup is not included).
func BenchmarkHandshake(b *testing.B) {
	client, server := newIdentity(b, "go-client"), newIdentity(b, "go-server")
	b.Run("noise+identity", func(b *testing.B) {
		for b.Loop() {
			c, s := net.Pipe()
			if err := fullHandshake(c, s, client, server); err != nil {
				b.Fatal(err)
			}
			c.Close()
			s.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	})
	b.Run("legacy-secure", func(b *testing.B) {
		for b.Loop() {
			c, s := net.Pipe()
			errc := make(chan error, 1)
			go func() { errc <- NewChannel(s, 0).SecureAsServer() }()
			if err := NewChannel(c, 0).SecureAsClient(); err != nil {
				b.Fatal(err)
			}
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			c.Close()
			s.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	})
}

// fullHandshake runs the Go↔Go handshake the way adapters/tcp is meant to:
// Noise, then the handshake messages with identity proofs, each side
// checking the other's before it lifts the pre-authentication limits.
func fullHandshake(c, s net.Conn, client, server Identity) error {
	cc := NewChannel(c, 0, WithPreAuthLimit(0))
	sc := NewChannel(s, 0, WithPreAuthLimit(0))
	serr := make(chan error, 1)
	go func() {
		serr <- func() error {
			if err := sc.NoiseAsServer(testPSK); err != nil {
				return err
			}
			var req pb.HandshakeRequest
			t, payload, err := sc.Recv()
			if err != nil {
				return err
			}
			if err := DecodeInto(t, HandshakeReq, payload, &req); err != nil {
				return err
			}
			if _, err := VerifyRequest(&req, sc.ChannelBinding()); err != nil {
				return err
			}
			sc.MarkAuthenticated()
			res := &pb.HandshakeResponse{NodeId: server.NodeID, Accepted: true}
			if err := server.SignResponse(res, sc.ChannelBinding()); err != nil {
				return err
			}
			return sc.Send(HandshakeRes, res)
		}()
	}()
	err := func() error {
		if err := cc.NoiseAsClient(testPSK); err != nil {
			return err
		}
		req := &pb.HandshakeRequest{NodeId: client.NodeID}
		if err := client.SignRequest(req, cc.ChannelBinding()); err != nil {
			return err
		}
		var res pb.HandshakeResponse
		if err := cc.Call(HandshakeReq, req, HandshakeRes, &res); err != nil {
			return err
		}
		if _, err := VerifyResponse(&res, cc.ChannelBinding()); err != nil {
			return err
		}
		cc.MarkAuthenticated()
		return nil
	}()
	if err != nil {
		c.Close()
	}
	if e := <-serr; err == nil {
		err = e
	}
	return err
}
