#!/usr/bin/env bash
# Installs the pinned code-generation tools into ./.bin (no global state).
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
export GOBIN="$PWD/.bin"
mkdir -p "$GOBIN"
[ -x "$GOBIN/buf" ] || go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
[ -x "$GOBIN/protoc-gen-go" ] || go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
[ -x "$GOBIN/protoc-gen-go-grpc" ] || go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
