// Package netns_test runs entgldb nodes on a private LAN made of Linux
// network namespaces joined by a bridge, to test UDP discovery by directed
// broadcast between real (if virtual) hosts. It needs root; it fails rather
// than skips without it, because CI runs it as root.
package netns_test
