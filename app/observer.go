package app

import "time"

// Observer receives the counts behind the node's metrics. The telemetry
// adapter's Metrics implements it; app only knows this interface, so it
// stays free of the Prometheus client.
type Observer interface {
	DocumentsWritten(n int)
	DocumentsApplied(n int)
	SyncRound(peer string, ok bool)
	// SyncRoundTook times one round's session with a peer (dial to last
	// answer); ok: the round succeeded.
	SyncRoundTook(d time.Duration, ok bool)
	BytesIn(n int)
	BytesOut(n int)
	ClockDriftRejected()
	OfflineQueueLength(n int)
	PeersConnected(n int)
}

type nopObserver struct{}

func (nopObserver) DocumentsWritten(int)              {}
func (nopObserver) DocumentsApplied(int)              {}
func (nopObserver) SyncRound(string, bool)            {}
func (nopObserver) SyncRoundTook(time.Duration, bool) {}
func (nopObserver) BytesIn(int)                       {}
func (nopObserver) BytesOut(int)                      {}
func (nopObserver) ClockDriftRejected()               {}
func (nopObserver) OfflineQueueLength(int)            {}
func (nopObserver) PeersConnected(int)                {}

// orNop returns o, or an observer that ignores everything when o is nil.
func orNop(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}

// roundObserver is where the engine times its rounds: the status tracker's
// observer, which counts them.
func (e *SyncEngine) roundObserver() Observer {
	if e.status == nil {
		return nopObserver{}
	}
	return e.status.opts.Observer
}
