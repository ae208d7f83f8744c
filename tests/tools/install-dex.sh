#!/usr/bin/env bash
# Builds a real Dex from its Go module (version pinned in tests/tools/dex/go.mod)
# into a cache outside the clone:
#   ${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}/dex-<version>/dex
# Dex's module path has no /v2, so `go install ...@v2.x` is refused; the wrapper
# module in dex/ requires the tag's pseudo-version and declares dex as a tool.
# Idempotent: builds only when missing. Prints the directory as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/dex"

# The tag's pseudo-version (v2.45.1) from go.mod only.
dex_version="$(awk '$1 == "github.com/dexidp/dex" { print $2 }' "$mod/go.mod")"
[[ -n "$dex_version" ]] || { echo "cannot read github.com/dexidp/dex version from $mod/go.mod" >&2; exit 1; }

tools_root="${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}"
dir="$tools_root/dex-$dex_version"
mkdir -p "$dir"

exec 9>"$dir/.lock"
flock 9

if [[ ! -x "$dir/dex" ]]; then
	command -v go >/dev/null || { echo "go is required to build dex" >&2; exit 1; }
	tmp="$(mktemp "$dir/.dex.XXXXXX")"
	start=$SECONDS
	echo "building dex ($dex_version) into $dir ..." >&2
	# cgo stays on: Dex's sqlite storage needs it (the tests use memory storage,
	# but the binary is the one Dex ships).
	if ! (cd "$mod" && GOWORK=off go build -mod=readonly -buildvcs=false -trimpath \
		-ldflags="-s -w" -o "$tmp" github.com/dexidp/dex/cmd/dex) >&2; then
		rm -f "$tmp"
		echo "building dex failed" >&2
		exit 1
	fi
	chmod 0755 "$tmp"
	mv -f "$tmp" "$dir/dex"
	echo "built dex in $((SECONDS - start))s" >&2
fi
echo "$dir"
