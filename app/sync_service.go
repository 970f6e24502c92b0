package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strconv"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// legacyPullCap is the page cap for a client that pulls without ever
// asking for a clock: one deployed client re-sends the same request forever
// when it receives 100 entries or more.
const legacyPullCap = 99

// SyncOptions configures a SyncService. Zero values take the defaults.
type SyncOptions struct {
	// BatchSize caps a PullChanges page in entries (Sync.BatchSize;
	// default domain.DefaultSyncBatchSize).
	BatchSize int
	// MaxPageBytes caps a PullChanges page in bytes (approximately: a group
	// of entries sharing (wall, logic) is never split). Default
	// domain.DefaultMaxPageBytes; keep it well under Network.MaxFrameBytes
	// (half of it is safe), or peers close the connection on our answers.
	MaxPageBytes int
	// Identity is the node's identity key, which signs the entries it
	// authors (the one the handshake proves; nil: a key generated for
	// this Database, which peers will not know after a restart).
	Identity ed25519.PrivateKey
	// AcceptLegacy: this node has a legacy opt-in (Security.LegacyPeers),
	// so entries a Go peer sends marked legacy may be taken unproven.
	AcceptLegacy bool
}

func (o SyncOptions) withDefaults() SyncOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = domain.DefaultSyncBatchSize
	}
	if o.MaxPageBytes <= 0 {
		o.MaxPageBytes = domain.DefaultMaxPageBytes
	}
	return o
}

// SyncService answers peers' sync requests: it is the ports.SyncHandler the
// TCP server calls after each accepted handshake.
type SyncService struct {
	db     *Database
	store  ports.Store
	clock  *domain.Clock
	status *StatusTracker
	logger *zap.Logger
	opts   SyncOptions

	rejected atomic.Int64
	refusals *refusalReporter
	authors  *authors
}

var _ ports.SyncHandler = (*SyncService)(nil)

// NewSyncService builds the handler. status and logger may be nil.
func NewSyncService(db *Database, store ports.Store, clock *domain.Clock, status *StatusTracker, logger *zap.Logger, opts SyncOptions) (*SyncService, error) {
	const op = "app.NewSyncService"
	if db == nil || store == nil || clock == nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "database, store and clock are required")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	au, err := newAuthors(store, clock.Node(), db.syncIdentity(opts.Identity), opts.AcceptLegacy)
	if err != nil {
		return nil, domain.Wrap(domain.CodeConfig, op, err)
	}
	return &SyncService{db: db, store: store, clock: clock, status: status, logger: logger, opts: opts.withDefaults(),
		refusals: newRefusalReporter(logger, status), authors: au}, nil
}

// proveFor proves entries served to peer; a legacy peer (C#/TypeScript)
// reads no proofs, so it gets none.
func (s *SyncService) proveFor(ctx context.Context, peer ports.PeerInfo, entries []domain.Entry) ([]domain.Entry, error) {
	if peer.Legacy {
		return entries, nil
	}
	return s.authors.prove(ctx, entries)
}

// Rejected is the number of pushed entries refused so far (drift, bad hash).
func (s *SyncService) Rejected() int64 { return s.rejected.Load() }

// GetClock answers the newest stamp in the oplog (the true maximum row).
func (s *SyncService) GetClock(ctx context.Context, _ ports.PeerInfo) (domain.Timestamp, error) {
	ts, err := s.store.NewestStamp(ctx)
	if err != nil {
		return domain.Timestamp{}, domain.Wrap(domain.CodePersistence, "sync.GetClock", err)
	}
	return ts, nil
}

// PullChanges serves entries strictly after (since_wall, since_logic), in HLC
// order, one page at a time, each author's run in it proven.
func (s *SyncService) PullChanges(ctx context.Context, peer ports.PeerInfo, req ports.PullRequest) ([]domain.Entry, error) {
	entries, err := s.pullPage(ctx, peer, req)
	if err != nil {
		return nil, err
	}
	entries, err = s.proveFor(ctx, peer, entries)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, "sync.PullChanges", err)
	}
	return entries, nil
}

// pullPage reads the page PullChanges serves.
func (s *SyncService) pullPage(ctx context.Context, peer ports.PeerInfo, req ports.PullRequest) ([]domain.Entry, error) {
	limit := s.opts.BatchSize
	if !peer.AskedClock && limit > legacyPullCap {
		limit = legacyPullCap
	}
	entries, err := s.store.EntriesAfter(ctx, req.Since.GroupCeiling(), req.Collections, limit, s.opts.MaxPageBytes)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, "sync.PullChanges", err)
	}
	// Defensive: whatever the store makes of the node id, never serve the
	// (wall, logic) group the client already holds. The page is copied
	// only when there is such an entry to leave out.
	held := false
	for i := range entries {
		held = held || !entries[i].Stamp.GroupAfter(req.Since)
	}
	if !held {
		return entries, nil
	}
	out := entries[:0:0]
	for i := range entries {
		if entries[i].Stamp.GroupAfter(req.Since) {
			out = append(out, entries[i])
		}
	}
	return out, nil
}

// PushChanges applies a peer's entries. Each entry is checked on its own:
// one the checks refuse (a clock too far ahead, a hash that does not match
// its contents, invalid content, no valid proof of its author:
// sync_authors.go) is counted and reported (at most once per
// peer and cause a minute), never applied, and never fails the session:
// the others are applied, and the answer is an error wrapping
// ports.ErrEntriesRefused (success=false on the wire). Entries that do not
// link to the hash chain we hold for their author are not applied either (a
// gap: applying them would advance our vector clock past entries we lack,
// and anti-entropy would never fetch those); the answer then says
// snapshot_required so the pusher knows, and our own rounds fill the gap.
func (s *SyncService) PushChanges(ctx context.Context, peer ports.PeerInfo, entries []domain.Entry) (bool, error) {
	const op = "sync.PushChanges"
	valid, rejected := validateEntries(s.clock, s.db.entryLimits(), entries)
	gaps, unproven, err := s.applyPushed(ctx, peer, valid)
	rejected = append(rejected, unproven...)
	for _, r := range rejected {
		s.rejected.Add(1)
		s.refusals.report(peer.NodeID, r.err)
	}
	if err != nil {
		return false, domain.Wrap(domain.CodePersistence, op, err)
	}
	if peer.Legacy {
		// A family node answered snapshot_required downloads our snapshot
		// at once, every round, and a C# node pushes only the collections
		// we announced, so its pushes often leave gaps: our own rounds
		// fill them instead.
		gaps = false
	}
	if len(rejected) > 0 {
		return gaps, &domain.Error{Code: domain.CodeSync, Op: op,
			Msg: strconv.Itoa(len(rejected)) + " of " + strconv.Itoa(len(entries)) + " entries refused, first: " +
				domain.Message(rejected[0].err), Err: ports.ErrEntriesRefused}
	}
	return gaps, nil
}

// applyPushed applies the entries whose authors are proven (or that are
// taken as legacy) and that link to our chains; it says whether some did
// not link, and returns those refused for their authors.
func (s *SyncService) applyPushed(ctx context.Context, peer ports.PeerInfo, valid []domain.Entry) (bool, []rejection, error) {
	if len(valid) == 0 {
		return false, nil, nil
	}
	vc, heads, err := chainState(ctx, s.store)
	if err != nil {
		return false, nil, err
	}
	admitted, unproven, err := s.authors.admit(ctx, checkProofs(valid), peer.Legacy, chainView{vc, heads})
	if err != nil {
		return false, nil, err
	}
	linked, gaps := domain.LinkEntries(admitted, vc, heads)
	if domain.Planted(domain.BugApplyUnlinked) {
		for _, a := range sortedKeys(gaps) {
			linked = append(linked, gaps[a]...)
		}
	}
	if len(gaps) > 0 {
		s.logger.Debug("pushed entries do not link to our chains; left to anti-entropy",
			zap.String("peer", peer.NodeID), zap.Strings("authors", sortedKeys(gaps)))
	}
	if len(linked) > 0 {
		if _, err := s.db.ApplyRemote(ctx, linked); err != nil {
			return false, unproven, err
		}
	}
	return len(gaps) > 0, unproven, nil
}

// RecordRejected counts and reports entries a peer sent that the protocol
// layer could not convert (unknown operation, invalid JSON), so they show
// among the node's recent errors like those refused here.
func (s *SyncService) RecordRejected(peer ports.PeerInfo, errs []error) {
	for _, err := range errs {
		s.rejected.Add(1)
		s.refusals.report(peer.NodeID, domain.Wrap(domain.CodeSync, "sync.PushChanges", err))
	}
}

// GetVectorClock answers, for every author, the newest stamp we hold.
func (s *SyncService) GetVectorClock(ctx context.Context, _ ports.PeerInfo) (domain.VectorClock, error) {
	vc, err := s.store.VectorClock(ctx)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, "sync.GetVectorClock", err)
	}
	return vc, nil
}

// GetChainRange answers one author's entries strictly after startHash up to
// and including endHash, or snapshot_required when that history was pruned.
func (s *SyncService) GetChainRange(ctx context.Context, peer ports.PeerInfo, startHash, endHash string) ([]domain.Entry, bool, error) {
	entries, err := s.store.ChainRange(ctx, startHash, endHash)
	if errors.Is(err, ports.ErrHistoryPruned) || domain.CodeOf(err) == domain.CodeNotFound {
		// An unknown end is history we do not hold either (pruned, or we
		// bootstrapped past it): only a snapshot can help the peer, if it
		// can use ours.
		return nil, snapshotUsable(peer), nil
	}
	if err == nil {
		entries, err = s.proveFor(ctx, peer, entries)
	}
	if err != nil {
		return nil, false, domain.Wrap(domain.CodePersistence, "sync.GetChainRange", err)
	}
	return entries, false, nil
}

// snapshotUsable says whether peer can bootstrap from our snapshot: Go
// nodes read ours, the C# node its SnapshotDto, which the transport sends
// family peers; a family client that never asks for a clock (the
// TypeScript node, which pulls only) reads neither, and answering it
// snapshot_required would only make it fetch what it cannot merge.
func snapshotUsable(peer ports.PeerInfo) bool {
	return !peer.Legacy || peer.AskedClock
}

// Collections lists the collections we hold; the transport announces them
// as our interests to family peers (a C# node on its BLite store pushes
// nothing to a peer that announces none).
func (s *SyncService) Collections(ctx context.Context) ([]string, error) {
	cols, err := s.store.Collections(ctx)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, "sync.Collections", err)
	}
	return cols, nil
}

// GetSnapshot answers the whole database (documents, tombstones, heads and
// vector clock) for a peer to bootstrap from.
func (s *SyncService) GetSnapshot(ctx context.Context, _ ports.PeerInfo) (domain.Snapshot, error) {
	const op = "sync.GetSnapshot"
	snap, ok := s.store.(ports.Snapshotter)
	if !ok {
		return domain.Snapshot{}, domain.Errorf(domain.CodeSync, op, "this store cannot make snapshots")
	}
	sn, err := snap.Snapshot(ctx)
	if err != nil {
		return domain.Snapshot{}, domain.Wrap(domain.CodePersistence, op, err)
	}
	return sn, nil
}
