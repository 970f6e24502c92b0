package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// faultyDialer opens sessions through the in-memory network (partitions,
// nodes down) and wraps them in the current round's request faults.
type faultyDialer struct {
	inner ports.PeerDialer
	sim   *Sim
	// salt seeds the fault decisions of the round in progress; lossy says
	// whether it may lose requests (not at quiescence).
	salt  uint64
	lossy bool
	dials int
	open  []*faultySession
}

func (d *faultyDialer) Dial(ctx context.Context, addr string) (ports.PeerSession, error) {
	d.dials++
	if d.lossy && d.sim.decide(d.salt, "dial", d.dials) < d.sim.opts.Loss {
		return nil, domain.Errorf(domain.CodeNetwork, "sim.Dial", "dial to %s lost", addr)
	}
	s, err := d.inner.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	fs := &faultySession{PeerSession: s, d: d, n: len(d.open), counts: map[string]int{}}
	d.open = append(d.open, fs)
	return fs, nil
}

// takeTrace returns what the sessions of the round did, session by
// session and, within one, kind by kind in issue order: the order of
// requests of different kinds may differ between runs (a pull's prefetch
// runs beside the page being applied), the requests of one kind may not.
func (d *faultyDialer) takeTrace() []string {
	var out []string
	for _, s := range d.open {
		s.mu.Lock()
		recs := slices.Clone(s.recs)
		s.mu.Unlock()
		slices.SortStableFunc(recs, func(a, b record) int {
			if a.kind < b.kind {
				return -1
			}
			if a.kind > b.kind {
				return 1
			}
			return 0
		})
		for _, r := range recs {
			out = append(out, fmt.Sprintf("s%d %s", s.n, r.text))
		}
	}
	d.open, d.dials = nil, 0
	return out
}

type record struct{ kind, text string }

// faultySession loses requests (the session then fails, as a TCP session
// whose request timed out) and delivers pushes twice, each as a hash of the
// round's salt, the request's kind and its number among that kind.
type faultySession struct {
	ports.PeerSession
	d *faultyDialer
	n int

	mu     sync.Mutex
	counts map[string]int
	broken bool
	recs   []record
}

// begin decides a request's fate: an error when it is lost (or an earlier
// loss broke the session), and whether a push goes twice.
func (s *faultySession) begin(kind string) (twice bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[kind]++
	n := s.counts[kind]
	if s.broken {
		return false, domain.Errorf(domain.CodeNetwork, "sim."+kind, "session failed earlier")
	}
	if s.d.lossy && s.d.sim.decide(s.d.salt, fmt.Sprintf("%s/s%d", kind, s.n), n) < s.d.sim.opts.Loss {
		s.broken = true
		s.recs = append(s.recs, record{kind, fmt.Sprintf("%s#%d lost", kind, n)})
		return false, domain.Errorf(domain.CodeTimeout, "sim."+kind, "request lost")
	}
	return s.d.lossy && s.d.sim.decide(s.d.salt, fmt.Sprintf("%s/s%d/dup", kind, s.n), n) < s.d.sim.opts.Dup, nil
}

func (s *faultySession) note(kind, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, record{kind, kind + " " + fmt.Sprintf(format, args...)})
}

func (s *faultySession) GetClock(ctx context.Context) (domain.Timestamp, error) {
	if _, err := s.begin("clock"); err != nil {
		return domain.Timestamp{}, err
	}
	ts, err := s.PeerSession.GetClock(ctx)
	s.note("clock", "%s %v", ts, domain.CodeOf(err))
	return ts, err
}

func (s *faultySession) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	if _, err := s.begin("vclock"); err != nil {
		return nil, err
	}
	vc, err := s.PeerSession.GetVectorClock(ctx)
	s.note("vclock", "%s %v", vcString(vc), domain.CodeOf(err))
	return vc, err
}

func (s *faultySession) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	if _, err := s.begin("pull"); err != nil {
		return nil, err
	}
	page, err := s.PeerSession.PullChanges(ctx, req)
	s.note("pull", "since=%s %s %v", req.Since, entriesString(page), domain.CodeOf(err))
	return page, err
}

func (s *faultySession) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	twice, err := s.begin("push")
	if err != nil {
		return false, err
	}
	if twice {
		if _, err := s.PeerSession.PushChanges(ctx, entries); err != nil && domain.CodeOf(err) != domain.CodeSync {
			return false, err
		}
	}
	snap, err := s.PeerSession.PushChanges(ctx, entries)
	s.note("push", "%s twice=%v snap=%v %v", entriesString(entries), twice, snap, domain.CodeOf(err))
	return snap, err
}

func (s *faultySession) GetChainRange(ctx context.Context, start, end string) ([]domain.Entry, bool, error) {
	if _, err := s.begin("range"); err != nil {
		return nil, false, err
	}
	es, snap, err := s.PeerSession.GetChainRange(ctx, start, end)
	s.note("range", "%s snap=%v %v", entriesString(es), snap, domain.CodeOf(err))
	return es, snap, err
}

func (s *faultySession) GetSnapshot(ctx context.Context) (domain.Snapshot, error) {
	if _, err := s.begin("snapshot"); err != nil {
		return domain.Snapshot{}, err
	}
	sn, err := s.PeerSession.GetSnapshot(ctx)
	s.note("snapshot", "docs=%d %s %v", len(sn.Documents), vcString(sn.VectorClock), domain.CodeOf(err))
	return sn, err
}

// decide is a number in [0, 1) fixed by the seed, a salt and a request's
// name and number: a fault decision that no interleaving can change.
func (s *Sim) decide(salt uint64, kind string, n int) float64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	x := mix(mix(s.opts.Seed^salt) ^ h.Sum64() ^ uint64(n)*0x9e3779b97f4a7c15)
	return float64(x>>11) / (1 << 53)
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func vcString(vc domain.VectorClock) string {
	authors := make([]string, 0, len(vc))
	for a := range vc {
		authors = append(authors, a)
	}
	slices.Sort(authors)
	out := "{"
	for _, a := range authors {
		out += a + "=" + vc[a].String() + " "
	}
	return out + "}"
}

func entriesString(es []domain.Entry) string {
	out := fmt.Sprintf("%d[", len(es))
	for i := range es {
		out += es[i].Stamp.String() + ","
	}
	return out + "]"
}
