package protocol

import (
	"strconv"
	"unicode/utf8"
)

// LogFieldMax bounds a peer-supplied string in a log field or error.
const LogFieldMax = 128

// Truncate returns s cut to at most n bytes on a rune boundary, marked with
// "…" and the original length when cut, so a peer cannot make one log line
// as long as its frame.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
