package app

import (
	"context"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A node that holds data and needs a snapshot from a Go peer (the peer no
// longer holds the entries it lacks) takes the peer's snapshot file,
// verified as an empty node's install verifies it, and merges it: the
// file's entries newer than our heads are taken as remote entries are,
// with their proofs, so every author's chain stays provable onward (the
// store's SnapshotFileMerger). A Go peer's JSON snapshot proves none of
// its authors and is never installed: a peer that cannot serve its file is
// refused (ports.ErrUnprovenSnapshot) and the round goes on with entries.

// refusedJSONCause is the cause a Go peer's refused JSON snapshot is
// counted under (entgldb_entries_refused_total, the peer's refusals).
const refusedJSONCause = "snapshot_unproven"

// fileTransport finds the file-snapshot side of a session under the
// engine's wrappers; ok when the transport between Go nodes carries files
// (TCP), whether or not this peer offers them. Under a lockedSession
// every call takes its lock: a prefetched page may be on its way.
func fileTransport(s ports.PeerSession) (ports.SnapshotFileSession, bool) {
	var mu *sync.Mutex
	if l, ok := s.(*lockedSession); ok {
		mu, s = &l.mu, l.s
	}
	if c, ok := s.(*confirmingSession); ok {
		s = c.PeerSession
	}
	fs, ok := s.(ports.SnapshotFileSession)
	if !ok || mu == nil {
		return fs, ok
	}
	return lockedFileSession{mu: mu, fs: fs}, true
}

// lockedFileSession is a lockedSession's file-snapshot side.
type lockedFileSession struct {
	mu *sync.Mutex
	fs ports.SnapshotFileSession
}

func (l lockedFileSession) OffersSnapshotFile() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fs.OffersSnapshotFile()
}

func (l lockedFileSession) SnapshotCluster() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fs.SnapshotCluster()
}

func (l lockedFileSession) FetchSnapshotFile(ctx context.Context, w io.Writer) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fs.FetchSnapshotFile(ctx, w)
}

// mergeFromFile is the bootstrap of a node that holds data from a Go peer:
// the peer's verified file merged, or nothing. It tries once per round; an
// error is returned only when the round cannot go on (cancelled, the
// session broke, the store failed), and the entry path follows otherwise.
func (e *SyncEngine) mergeFromFile(ctx context.Context, fs ports.SnapshotFileSession, st *pullState, res *roundResult) error {
	st.snapshot = true
	merger, ok := e.store.(ports.SnapshotFileMerger)
	switch {
	case e.fileRefusals.refused(st.peer):
		return nil // its file failed before: its entries only
	case !ok || !fs.OffersSnapshotFile():
		err := domain.Wrap(domain.CodeUnauthorized, "sync.bootstrap", ports.ErrUnprovenSnapshot)
		e.logger.Warn("a Go peer's JSON snapshot refused", zap.String("peer", st.peer), zap.Error(err))
		e.recordError(st.peer, err)
		if e.status != nil {
			e.status.RecordRefused(st.peer, refusedJSONCause, 1)
		}
		return nil
	}
	start := time.Now()
	var got int64
	f, err := merger.ReceiveSnapshotFile(ctx, e.fileCheck(fs), func(w io.Writer) error {
		n, err := fs.FetchSnapshotFile(ctx, w)
		got = n
		return err
	})
	res.bytesIn += got
	if err != nil {
		return e.refuseFile(ctx, st.peer, err)
	}
	defer f.Close()
	ar, err := e.db.MergeSnapshotFile(ctx, f)
	if err != nil {
		if domain.CodeOf(err) == domain.CodeUnauthorized {
			return e.refuseFile(ctx, st.peer, err) // a key pinned since the checks
		}
		return domain.Wrap(domain.CodePersistence, "sync.bootstrap", err)
	}
	res.snapshot = true
	e.stats.snapshots.Add(1)
	e.logger.Info("merged a peer's snapshot file", zap.String("peer", st.peer),
		zap.Int("entries", len(ar.Applied)), zap.Int("documents changed", len(ar.Changed)),
		zap.Int64("bytes", f.Size()), zap.Duration("took", time.Since(start)))
	return e.reloadState(ctx, st)
}

// MergeSnapshotFile merges a verified snapshot file under the write lock,
// like ApplyRemote: the clock learns the newest stamp taken before a local
// write can follow (the file's heads passed the drift check), the cache
// forgets the changed documents and the taken entries go to the change
// feed.
func (db *Database) MergeSnapshotFile(ctx context.Context, f ports.VerifiedSnapshotFile) (ports.ApplyResult, error) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	res, err := f.Merge(ctx, db.resolver)
	db.writes.record(ctx, err)
	if err != nil {
		return res, err // one transaction: nothing landed
	}
	var newest domain.Timestamp
	for i := range res.Applied {
		if res.Applied[i].Stamp.After(newest) {
			newest = res.Applied[i].Stamp
		}
	}
	if !newest.IsZero() {
		_, _ = db.clock.Update(newest)
	}
	for i := range res.Changed {
		db.updateCache(res.Changed[i].Collection, res.Changed[i].Key, nil)
	}
	db.publish(res.Applied)
	// A collected delete's marker changes a document with no entry: the
	// feed gets a Seq 0 change for it, as for a JSON snapshot's documents.
	db.publishSnapshot(ctx, withoutEntry(res.Changed, res.Applied))
	db.obs.DocumentsApplied(len(res.Applied))
	return res, nil
}

// withoutEntry lists the changed documents whose version is none of the
// applied entries.
func withoutEntry(changed []domain.Document, applied []domain.Entry) []domain.Document {
	type version struct {
		collection, key string
		stamp           domain.Timestamp
	}
	had := make(map[version]bool, len(applied))
	for i := range applied {
		had[version{applied[i].Collection, applied[i].Key, applied[i].Stamp}] = true
	}
	var out []domain.Document
	for _, d := range changed {
		if !had[version{d.Collection, d.Key, d.Stamp}] {
			out = append(out, d)
		}
	}
	return out
}
