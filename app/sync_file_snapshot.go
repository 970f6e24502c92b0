package app

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// File snapshots: a node with an empty store that meets a Go peer offering
// them installs a verified copy of the peer's database file, then catches
// up the tail with the ordinary round. Any failure falls back to the entry
// path, and that peer is not asked for a file again by this engine.

var _ ports.SnapshotFileServer = (*SyncService)(nil)

// ServesSnapshotFiles reports whether the store can copy itself for a peer.
func (s *SyncService) ServesSnapshotFiles() bool {
	_, ok := s.store.(ports.SnapshotFileWriter)
	return ok
}

// SnapshotFile writes a copy of the store for peer, stamped with cluster;
// the caller removes it.
func (s *SyncService) SnapshotFile(ctx context.Context, peer ports.PeerInfo, cluster string) (string, error) {
	const op = "sync.SnapshotFile"
	w, ok := s.store.(ports.SnapshotFileWriter)
	if !ok {
		return "", domain.Errorf(domain.CodeSync, op, "this store cannot make snapshot files")
	}
	path, err := w.WriteSnapshotFile(ctx, cluster, s.authors.snapshotSigner())
	if err != nil {
		return "", domain.Wrap(domain.CodePersistence, op, err)
	}
	s.logger.Info("serving a snapshot file", zap.String("peer", peer.NodeID))
	return path, nil
}

// refusedFileCause is the cause a refused snapshot file is counted under
// (entgldb_entries_refused_total, a peer's refusals in the status).
const refusedFileCause = "snapshot_file"

// snapshotSigner signs our own chain in the snapshot files we serve.
func (a *authors) snapshotSigner() ports.SnapshotSigner {
	return ports.SnapshotSigner{Author: a.self, PublicKey: a.pub,
		Sign: func(link []byte) []byte { return domain.SignHead(a.key, a.self, link) }}
}

// fileRefusalRetry is how long a peer whose file was refused is not asked
// for another: long enough that a hostile peer cannot make us fetch and
// check a whole database every round, short enough that an honest peer
// whose file was briefly unservable (written between two transactions,
// say) is asked again without a restart.
const fileRefusalRetry = 10 * time.Minute

// fileRefusals remembers the peers whose file snapshot failed, so the
// rounds with them take the entry path instead of failing again until
// fileRefusalRetry has passed.
type fileRefusals struct {
	mu    sync.Mutex
	until map[string]time.Time
	now   func() time.Time // time.Now when nil; tests set it
}

func (f *fileRefusals) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

func (f *fileRefusals) refused(peer string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.until[peer]
	if ok && !f.clock().Before(until) {
		delete(f.until, peer)
		return false
	}
	return ok
}

func (f *fileRefusals) add(peer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.until == nil {
		f.until = map[string]time.Time{}
	}
	f.until[peer] = f.clock().Add(fileRefusalRetry)
}

// fileSession finds the session's file-snapshot side under the engine's
// own wrapper.
func fileSession(s ports.PeerSession) (ports.SnapshotFileSession, bool) {
	fs, ok := fileTransport(s)
	return fs, ok && fs.OffersSnapshotFile()
}

// fileCheck is what a file from the peer behind fs must prove, for an
// install and a merge alike.
func (e *SyncEngine) fileCheck(fs ports.SnapshotFileSession) ports.SnapshotFileCheck {
	limits := e.db.entryLimits()
	return ports.SnapshotFileCheck{
		Cluster:    fs.SnapshotCluster(),
		CheckStamp: e.clock.CheckDrift,
		CheckEntry: func(en *domain.Entry) error { return domain.ValidateEntry(en, limits) },
		// Every entry of the file must be proven by its author's key (ours
		// for our node id, else the one pinned, else the file's, pinned
		// then), as an entry that arrives alone.
		Self:         e.authors.self,
		SelfKey:      e.authors.pub,
		AcceptLegacy: e.authors.acceptLegacy,
	}
}

// refuseFile reports a peer's file that failed (counted once per file with
// the refused entries, logged, in the recent errors) and remembers the
// peer, whose entries are taken instead. The error is returned when the
// round cannot go on: cancelled, or the session is gone.
func (e *SyncEngine) refuseFile(ctx context.Context, peer string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e.fileRefusals.add(peer)
	err = domain.Errorf(domain.CodeOf(err), "sync.bootstrap", "snapshot file refused; taking the entries instead: %w", err)
	e.logger.Warn("a peer's snapshot file was refused", zap.String("peer", peer), zap.Error(err))
	e.recordError(peer, err)
	if domain.CodeOf(err) == domain.CodeNetwork || domain.CodeOf(err) == domain.CodeTimeout {
		return err // the session is gone; the next round takes the entries
	}
	if e.status != nil {
		// Counted with the refused entries, once per file.
		e.status.RecordRefused(peer, refusedFileCause, 1)
	}
	return nil
}

// bootstrapFromFile installs the peer's file snapshot when our store is
// empty and both sides can. It reports whether it did; an error is
// returned only when the round cannot go on (cancelled, or the session
// broke mid-file), and the entry path follows otherwise.
func (e *SyncEngine) bootstrapFromFile(ctx context.Context, s ports.PeerSession, st *pullState, theirVC domain.VectorClock, res *roundResult) (bool, error) {
	if len(st.vc) > 0 || len(theirVC) == 0 || st.legacy {
		return false, nil
	}
	installer, ok := e.store.(ports.SnapshotFileInstaller)
	if !ok {
		return false, nil
	}
	fs, ok := fileSession(s)
	if !ok || e.fileRefusals.refused(st.peer) {
		return false, nil
	}
	start := time.Now()
	var got int64
	r, err := installer.InstallSnapshotFile(ctx, e.fileCheck(fs),
		func(w io.Writer) error {
			n, err := fs.FetchSnapshotFile(ctx, w)
			got = n
			return err
		})
	res.bytesIn += got
	if err != nil {
		if errors.Is(err, ports.ErrStoreNotEmpty) {
			return false, nil // a write came first: the entry path it is
		}
		return false, e.refuseFile(ctx, st.peer, err)
	}
	if newest := r.VectorClock.Max(); !newest.IsZero() {
		_, _ = e.clock.Update(newest) // drift checked before the install
	}
	st.snapshot, res.snapshot = true, true
	e.stats.snapshots.Add(1)
	e.logger.Info("bootstrapped from a peer's snapshot file", zap.String("peer", st.peer),
		zap.Int("documents", r.Documents), zap.Int("entries", r.Entries), zap.Int64("bytes", r.Bytes),
		zap.Duration("took", time.Since(start)))
	if err := e.db.publishInstalled(ctx, r.LastSeq); err != nil {
		e.logger.Warn("change feed: the documents of a snapshot file were not announced", zap.Error(err))
	}
	return true, e.reloadState(ctx, st)
}
