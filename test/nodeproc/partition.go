package nodeproc

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The partition scenario, on loopback: Isolate kills the node and restarts
// it with no static peers on a fresh sync port, so it reaches no peer and
// no peer (whose StaticPeers name its real port) reaches it, while its HTTP
// API keeps taking writes. Heal stops it gracefully and restarts it with
// its real port and peers: the partition heals and the mesh must converge.
//
// Why not SIGSTOP: a stopped process also stops taking writes, which tests
// nothing a kill does not; and the node has no listener switch. This is the
// honest loopback equivalent of a cut cable.

// Isolated reports whether the node is cut off by Isolate.
func (p *Proc) Isolated() bool { return p.realTCPPort != 0 }

// Isolate cuts the node off from its peers (see above) and waits up to
// readyWithin for it to be ready alone. It returns the isolated sync port.
func (p *Proc) Isolate(ctx context.Context, readyWithin time.Duration) (int, error) {
	if p.Isolated() {
		return 0, fmt.Errorf("node %s is already isolated", p.Spec.NodeID)
	}
	port, err := FreePort()
	if err != nil {
		return 0, err
	}
	if err := p.Kill(); err != nil {
		return 0, err
	}
	p.realTCPPort, p.realPeers = p.TCPPort, p.peers
	p.TCPPort, p.peers = port, nil
	if err := p.Start(ctx, readyWithin); err != nil {
		return port, fmt.Errorf("isolate %s: %w", p.Spec.NodeID, err)
	}
	return port, nil
}

// Heal stops the isolated node gracefully (within stopWithin; past it the
// node is killed and that is reported too) and restarts it with its real
// sync port and peers, waiting up to readyWithin.
func (p *Proc) Heal(ctx context.Context, stopWithin, readyWithin time.Duration) error {
	if !p.Isolated() {
		return fmt.Errorf("node %s is not isolated", p.Spec.NodeID)
	}
	var stopErr error
	if code, err := p.Stop(stopWithin); err != nil || code != 0 {
		stopErr = fmt.Errorf("graceful stop of %s at the end of its partition: exit %d %v", p.Spec.NodeID, code, err)
	}
	p.TCPPort, p.peers = p.realTCPPort, p.realPeers
	p.realTCPPort, p.realPeers = 0, nil
	if err := p.Start(ctx, readyWithin); err != nil {
		return errors.Join(stopErr, fmt.Errorf("heal %s: %w", p.Spec.NodeID, err))
	}
	return stopErr
}
