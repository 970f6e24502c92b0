//go:build !race

package sqlite_test

// Test sizes. The race detector makes SQLite's transpiled C about ten times
// slower, so race_on_test.go runs the single-goroutine randomised tests
// smaller; concurrency tests keep their size.
const (
	diffApplyEntries = 3000 // TestApplyRemoteMatchesMemory, entries per run
	diffQueryCases   = 500  // TestFindMatchesReferenceEvaluator, random queries per variant (issue 3 asks for >= 500)
	diffCommitCalls  = 120  // TestCommitBatchesMatchMemory, commits per run
)
