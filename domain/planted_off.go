//go:build !simbugs

package domain

// Planted reports whether bug is switched on: never, outside simbugs builds.
func Planted(Bug) bool { return false }
