//go:build race

package sqlite_test

// Smaller sizes under the race detector (see race_off_test.go).
const (
	diffApplyEntries = 1500
)
