#!/bin/sh
# Regenerates adapters/protocol/pb from adapters/protocol/proto/entgldb.proto.
# Needs only the Go toolchain: buf (its built-in compiler) comes from the
# separate tools.mod so it never touches the main module graph, and
# protoc-gen-go is a tool of the main go.mod.
set -eu
cd "$(dirname "$0")/../.."
exec go tool -modfile=tools.mod buf generate
