//go:build noui

package webui

import "embed"

// Included reports whether this binary carries the dashboard: built with
// -tags noui, it does not, and the node serves no /ui/.
const Included = false

var assets embed.FS
