//go:build simbugs

package domain

import "sync"

var planted sync.Map // Bug → struct{}

// Planted reports whether bug is switched on (simbugs builds only).
func Planted(bug Bug) bool {
	_, on := planted.Load(bug)
	return on
}

// Plant switches bug on or off (simbugs builds only).
func Plant(bug Bug, on bool) {
	if on {
		planted.Store(bug, struct{}{})
	} else {
		planted.Delete(bug)
	}
}
