package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/adapters/tcp"
)

// handshakeRates times whole session set-ups against a running node, the Go
// way (Noise NNpsk0 + identity proofs, verified against the peer's recorded
// key) and, in the same run, the family's v5 secure handshake (P-256 key
// exchange, token sent) that the node allows from a listed legacy peer.
// Sessions are never pooled: each Dial is a new TCP connection and handshake.
func handshakeRates(ctx context.Context, root string, n int) (noise, legacy latencies, err error) {
	cfg, err := nodeConfig(filepath.Join(root, "handshake"), "bench-handshake", nil)
	if err != nil {
		return nil, nil, err
	}
	addr := peerAddr(cfg)
	cfg.Security.LegacyPeers = []string{addr} // the server allows v5 from 127.0.0.1
	node, err := openNode(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer stopNode(node)

	// One identity per way: the node remembers the first key it sees for a
	// node id and refuses any other.
	keys := map[bool]ed25519.PrivateKey{}
	for _, legacy := range []bool{false, true} {
		if _, keys[legacy], err = ed25519.GenerateKey(nil); err != nil {
			return nil, nil, err
		}
	}
	dial := func(legacy bool) (latencies, error) {
		priv := keys[legacy]
		trust := tcp.Trust{PSK: protocol.DerivePSK([]byte(cfg.AuthToken)), LegacyToken: cfg.AuthToken,
			Identity: protocol.Identity{NodeID: fmt.Sprintf("bench-dialer-%v", legacy), Private: priv}}
		if legacy {
			trust.LegacyPeers = []string{addr}
		}
		d := tcp.NewDialer(tcp.DialerOptions{Trust: trust, Secure: true, Compression: true, MaxIdlePerPeer: -1},
			retry.New(retry.Options{RetryAttempts: 1, AttemptTimeout: 10 * time.Second}, nil), nil)
		defer d.Close()
		lat := make(latencies, 0, n)
		for range n {
			start := time.Now()
			s, err := d.Dial(ctx, addr)
			if err != nil {
				return nil, err
			}
			lat = append(lat, time.Since(start))
			_ = s.Close()
		}
		return lat, nil
	}
	// Alternate halves so machine noise falls on both alike.
	for range 2 {
		l, err := dial(false)
		if err != nil {
			return nil, nil, fmt.Errorf("noise: %w", err)
		}
		noise = append(noise, l...)
		if l, err = dial(true); err != nil {
			return nil, nil, fmt.Errorf("v5 secure: %w", err)
		}
		legacy = append(legacy, l...)
	}
	return noise, legacy, nil
}
