#!/usr/bin/env bash
# Installs oha, the open-loop load generator `make bench` uses for latency at a
# fixed request rate: built from its crate once and cached outside the clone,
# keyed by version. Prints the path of the binary on stdout.
set -euo pipefail

VERSION=${OHA_VERSION:-1.16.0}
TOOLS_DIR=${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}
DEST_DIR="$TOOLS_DIR/oha-$VERSION"
BIN="$DEST_DIR/bin/oha"

if [ ! -x "$BIN" ]; then
  echo "install-oha: building oha $VERSION (first time only; a few minutes on 2 cores)" >&2
  mkdir -p "$TOOLS_DIR"
  staging=$(mktemp -d "$TOOLS_DIR/.oha-$VERSION.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  cargo install oha --version "$VERSION" --locked --root "$staging/out" >&2
  # Atomic: a concurrent or interrupted run never leaves a half-written cache entry.
  if ! mv -T "$staging/out" "$DEST_DIR" 2>/dev/null; then
    [ -x "$BIN" ] || { echo "install-oha: could not move the build into $DEST_DIR" >&2; exit 1; }
  fi
fi

echo "$BIN"
