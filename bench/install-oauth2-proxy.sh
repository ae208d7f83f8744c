#!/usr/bin/env bash
# Installs what `make bench` needs besides the project's own binaries:
#   - oauth2-proxy, built from its Go module through the Go module proxy and
#     cached outside the clone, keyed by version;
#   - wrk, from Debian, when it is not on PATH.
# Prints the path of the oauth2-proxy binary on stdout (everything else goes to stderr).
set -euo pipefail

VERSION=${OAUTH2_PROXY_VERSION:-v7.15.6}
MODULE=github.com/oauth2-proxy/oauth2-proxy/v7
TOOLS_DIR=${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}
DEST_DIR="$TOOLS_DIR/oauth2-proxy-$VERSION"
BIN="$DEST_DIR/oauth2-proxy"

log() { echo "install-oauth2-proxy: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk from Debian"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >&2
fi

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { log "go is not installed"; exit 1; }
  mkdir -p "$TOOLS_DIR"
  staging=$(mktemp -d "$TOOLS_DIR/.oauth2-proxy-$VERSION.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  log "building $MODULE@$VERSION (first time only; a few minutes on 2 cores)"
  # `go install pkg@version` builds the module exactly as released, with its own go.sum.
  # Its go.mod asks for go 1.26.0; GOTOOLCHAIN=auto fetches a newer toolchain if a later
  # release ever asks for more than the installed one.
  GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=${GOTOOLCHAIN:-auto} CGO_ENABLED=0 \
    GOBIN="$staging/bin" go install \
      -ldflags="-X $MODULE/pkg/version.VERSION=$VERSION" "$MODULE@$VERSION" >&2
  mkdir -p "$staging/out"
  mv "$staging/bin/oauth2-proxy" "$staging/out/oauth2-proxy"
  "$staging/out/oauth2-proxy" --version >&2
  # Atomic: a concurrent or interrupted run never leaves a half-written cache entry.
  if ! mv -T "$staging/out" "$DEST_DIR" 2>/dev/null; then
    [ -x "$BIN" ] || { log "could not move the build into $DEST_DIR"; exit 1; }
  fi
fi

echo "$BIN"
