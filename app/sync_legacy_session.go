package app

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// interestsReporter is the part of a transport session that tells the
// collections the peer announced in the handshake.
type interestsReporter interface {
	PeerInterests() []string
}

// forPeer adapts s, the engine's session over raw, to a family peer
// (raw.Legacy): our pushes carry only the collections it announced as its
// interests (none announced: all), and a peer whose answers to a whole pull
// exceeded the response limit is pulled from collection by collection.
// Go peers' sessions are returned as they are.
func (e *SyncEngine) forPeer(ctx context.Context, addr string, raw, s ports.PeerSession) ports.PeerSession {
	if !raw.Legacy() {
		return s
	}
	var interests []string
	if ir, ok := raw.(interestsReporter); ok {
		interests = ir.PeerInterests()
	}
	perCollection := e.tooLarge.has(addr)
	if len(interests) == 0 && !perCollection {
		return s
	}
	fs := &familySession{PeerSession: s, interests: interests}
	if perCollection {
		fs.collections = e.pullCollections(ctx, interests)
	}
	return fs
}

// markPerCollection remembers, for LegacyRecheck, that the peer at addr
// answers a whole pull with more than the response limit; false when that
// was known already (pulling per collection did not help).
func (e *SyncEngine) markPerCollection(addr string) bool {
	return e.tooLarge.add(addr, e.opts.LegacyRecheck)
}

// pullCollections are the collections pulled one by one: ours and those
// the peer announced. A collection neither side names is not pulled from
// such a peer until it appears here (a local write, or the peer announcing
// it).
func (e *SyncEngine) pullCollections(ctx context.Context, interests []string) []string {
	out, err := e.store.Collections(ctx)
	if err != nil {
		e.logger.Warn("listing our collections failed; pulling the peer's announced ones", zap.Error(err))
	}
	for _, c := range interests {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// tooLargePeers are the addresses of peers pulled from collection by
// collection, until when.
type tooLargePeers struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (p *tooLargePeers) has(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Before(p.until[addr])
}

func (p *tooLargePeers) add(addr string, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Now().Before(p.until[addr]) {
		return false
	}
	if p.until == nil {
		p.until = map[string]time.Time{}
	}
	p.until[addr] = time.Now().Add(d)
	return true
}

// familySession is a family peer's session as the engine uses it.
type familySession struct {
	ports.PeerSession
	interests   []string // push only these (empty: all)
	collections []string // pull one by one (empty: all at once)
}

// PushChanges pushes the entries of the collections the peer wants.
func (f *familySession) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	if len(f.interests) > 0 {
		wanted := entries[:0:0]
		for i := range entries {
			if slices.Contains(f.interests, entries[i].Collection) {
				wanted = append(wanted, entries[i])
			}
		}
		if len(wanted) == 0 {
			return false, nil
		}
		entries = wanted
	}
	return f.PeerSession.PushChanges(ctx, entries)
}

// PullChanges pulls a whole request collection by collection when the peer
// is pulled that way. Each answer may end at a different stamp (a peer that
// pages), so the merged page stops at the earliest last stamp among them:
// what lies beyond comes again with the next page, and nothing is skipped.
func (f *familySession) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	if len(f.collections) == 0 || len(req.Collections) > 0 {
		return f.PeerSession.PullChanges(ctx, req)
	}
	var (
		merged     []domain.Entry
		cut        domain.Timestamp
		unreadable error
	)
	for _, c := range f.collections {
		page, err := f.PeerSession.PullChanges(ctx, ports.PullRequest{Since: req.Since, Collections: []string{c}})
		last := domain.Timestamp{}
		if len(page) > 0 {
			last = page[len(page)-1].Stamp
		}
		var bad *ports.UnreadableEntriesError
		switch {
		case errors.As(err, &bad):
			if unreadable == nil {
				unreadable = err
			}
			if bad.Resume.After(last) {
				last = bad.Resume
			}
		case err != nil:
			return nil, err
		}
		if last.IsZero() {
			continue
		}
		if cut.IsZero() || last.Before(cut) {
			cut = last
		}
		merged = append(merged, page...)
	}
	kept := merged[:0]
	for i := range merged {
		if !merged[i].Stamp.GroupAfter(cut) {
			kept = append(kept, merged[i])
		}
	}
	slices.SortStableFunc(kept, func(a, b domain.Entry) int { return a.Stamp.Compare(b.Stamp) })
	if unreadable != nil {
		return kept, &ports.UnreadableEntriesError{Resume: cut, Err: unreadable}
	}
	return kept, nil
}
