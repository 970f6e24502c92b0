// Package protocol speaks the EntglDb wire protocol (docs/PROTOCOL.md):
// length-prefixed frames, the protobuf messages of package pb, Brotli
// payload compression, the P-256 / AES-256-CBC + HMAC-SHA256 secure channel,
// the cluster hash and the UDP discovery beacon. It does no dialling or
// listening itself: adapters/tcp and adapters/udp own the sockets.
package protocol

//go:generate ./generate.sh
