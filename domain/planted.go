package domain

// Bug names a defect planted on purpose, to measure that the simulator
// (package sim) catches it. The switches are compiled in only with the
// simbugs build tag (planted_on.go); in every other build Planted is a
// constant false and the compiler drops the planted branches.
type Bug string

// The planted bugs, each a small plausible mistake in the code it names.
const (
	// BugLWWTieBreak: last-write-wins compares (wall, logical) only, so on
	// a tie the write that arrived first stays (domain/resolver.go).
	BugLWWTieBreak Bug = "lww-tiebreak"
	// BugVectorClockOffByOne: a peer one logical tick ahead on an author
	// in the same millisecond is taken as even (domain/vclock.go Delta).
	BugVectorClockOffByOne Bug = "vclock-off-by-one"
	// BugClockNotRestored: a restarted node's clock is not moved past the
	// stamps its store holds (app/clock_restore.go).
	BugClockNotRestored Bug = "clock-not-restored"
	// BugAckBeforeCommit: a local write is acknowledged although the
	// store refused it (app/database.go).
	BugAckBeforeCommit Bug = "ack-before-commit"
	// BugSkipProofCheck: an entry whose proof of authorship fails is taken
	// anyway (app/sync_authors.go).
	BugSkipProofCheck Bug = "skip-proof-check"
	// BugApplyUnlinked: a pushed entry that does not link to the chain
	// held is applied anyway, leaving a hole (app/sync_service.go).
	BugApplyUnlinked Bug = "apply-unlinked"
	// BugSkipGapFill: a pull leaves a chain gap as it is instead of
	// fetching the missing range or a snapshot (app/sync_pull.go).
	BugSkipGapFill Bug = "skip-gap-fill"
	// BugTombstoneNoMarker: a collected tombstone takes its document's
	// row with it, leaving no marker (adapters/memory/compact.go).
	BugTombstoneNoMarker Bug = "tombstone-no-marker"
)
