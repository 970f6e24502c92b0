//go:build !noui

package webui

import "embed"

// Included reports whether this binary carries the dashboard (build with
// -tags noui to leave it out).
const Included = true

//go:embed assets
var assets embed.FS
