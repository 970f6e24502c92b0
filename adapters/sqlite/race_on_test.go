//go:build race

package sqlite_test

// Smaller sizes under the race detector (see race_off_test.go).
const (
	diffApplyEntries = 1200
	diffQueryCases   = 170 // three variants: 510 in all
	diffCommitCalls  = 60  // TestCommitBatchesMatchMemory, commits per run
)
