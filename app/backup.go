package app

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// ManualBackupDir is the subdirectory of BackupOptions.Dir that backups
// asked for go to. Keep rotates each directory on its own, so no number of
// requests can rotate the automatic backups out of existence.
const ManualBackupDir = "manual"

// BackupStore writes a consistent, time-named copy of the database into dir
// and keeps only the newest keep of them (keep <= 0: all); it returns the
// new file's path.
type BackupStore interface {
	BackupNow(ctx context.Context, dir string, keep int) (string, error)
}

// BackupObserver is told of every backup made (the metrics' backups_total
// and backup_age_seconds).
type BackupObserver interface {
	BackupMade(at time.Time)
}

// BackupOptions configure a BackupService.
type BackupOptions struct {
	// Dir is where automatic backups go (Persistence.BackupPath); the ones
	// asked for go to its ManualBackupDir.
	Dir string
	// Keep is how many backups of each kind, automatic and asked for, are
	// kept (Persistence.BackupKeep; <= 0: all).
	Keep int
	// Interval is the time between automatic backups while the service
	// runs; <= 0: none (Persistence.EnableAutoBackup off).
	Interval time.Duration
	// Observer is told of every backup, automatic or asked for (nil: none).
	Observer BackupObserver
}

// BackupFile is one backup written.
type BackupFile struct {
	Path  string
	Bytes int64
}

// BackupService makes backups: on request (BackupNow, the HTTP route) and,
// as a node component, every Interval between Start and Stop. Every backup
// is reported to the observer, whichever way it was made.
type BackupService struct {
	store BackupStore
	opts  BackupOptions
	log   *zap.Logger
	auto  loop
	// running holds a token while a backup is written: one at a time, so
	// concurrent requests cannot multiply the disk the copies take.
	running chan struct{}
}

// NewBackupService returns a stopped service writing through store.
func NewBackupService(store BackupStore, logger *zap.Logger, opts BackupOptions) *BackupService {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &BackupService{store: store, opts: opts, log: logger, running: make(chan struct{}, 1)}
}

// BackupNow writes a backup now, into Dir's ManualBackupDir, and reports it.
// While another backup runs it fails at once with CONFLICT. The size is 0
// when the new file cannot be read back (the backup itself succeeded).
func (b *BackupService) BackupNow(ctx context.Context) (BackupFile, error) {
	select {
	case b.running <- struct{}{}:
	default:
		return BackupFile{}, domain.Errorf(domain.CodeConflict, "backup.BackupNow", "a backup is already running; try again when it is done")
	}
	defer func() { <-b.running }()
	return b.write(ctx, filepath.Join(b.opts.Dir, ManualBackupDir))
}

// write makes one backup in dir, rotating dir by Keep, and reports it; the
// caller holds the running token.
func (b *BackupService) write(ctx context.Context, dir string) (BackupFile, error) {
	path, err := b.store.BackupNow(ctx, dir, b.opts.Keep)
	if err != nil {
		return BackupFile{}, err
	}
	if b.opts.Observer != nil {
		b.opts.Observer.BackupMade(time.Now())
	}
	f := BackupFile{Path: path}
	if st, err := os.Stat(path); err == nil {
		f.Bytes = st.Size()
	}
	return f, nil
}

// Name names the automatic backups among a node's components.
func (b *BackupService) Name() string { return "auto backup" }

// Start begins the automatic backups (nothing with no Interval).
func (b *BackupService) Start(context.Context) error {
	if b.opts.Interval > 0 {
		b.auto.start(b.runAuto)
	}
	return nil
}

// Stop ends the automatic backups, waiting within ctx for one in progress.
func (b *BackupService) Stop(ctx context.Context) error {
	return b.auto.stop(ctx, "backup.Stop")
}

// runAuto backs up every Interval until ctx ends.
func (b *BackupService) runAuto(ctx context.Context) {
	tickEvery(ctx, b.opts.Interval, b.autoBackup)
}

// autoBackup is one automatic backup, into Dir, after any backup asked for
// has finished; a failure is logged and the next tick tries again.
func (b *BackupService) autoBackup(ctx context.Context) {
	select {
	case b.running <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-b.running }()
	if _, err := b.write(ctx, b.opts.Dir); err != nil && ctx.Err() == nil {
		b.log.Error("automatic backup failed", zap.String("dir", b.opts.Dir), zap.Error(err))
	}
}
