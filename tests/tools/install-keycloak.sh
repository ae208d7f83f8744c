#!/usr/bin/env bash
# Fetches the Keycloak server distribution (version below) with Maven and
# unpacks it into a cache outside the clone:
#   ${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}/keycloak-<version>/
# Idempotent: downloads only when missing. Prints the directory as its last line.
set -euo pipefail

version="${PORTCULLIS_KEYCLOAK_VERSION:-26.7.3}"
tools_root="${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}"
dir="$tools_root/keycloak-$version"
mkdir -p "$tools_root"

exec 9>"$tools_root/.keycloak-$version.lock"
flock 9

if [[ ! -x "$dir/bin/kc.sh" ]]; then
	command -v mvn >/dev/null || { echo "mvn is required to fetch keycloak" >&2; exit 1; }
	command -v unzip >/dev/null || { echo "unzip is required to unpack keycloak" >&2; exit 1; }
	tmp="$(mktemp -d "$tools_root/.keycloak-$version.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	start=$SECONDS
	echo "fetching keycloak $version into $dir ..." >&2
	mvn -B -q dependency:copy \
		-Dartifact="org.keycloak:keycloak-quarkus-dist:$version:zip" \
		-DoutputDirectory="$tmp" >&2
	unzip -q "$tmp/keycloak-quarkus-dist-$version.zip" -d "$tmp" >&2
	rm -rf "$dir"
	mv "$tmp/keycloak-$version" "$dir"
	# Maven keeps its own copy of the 177 MB zip; the unpacked tree is enough.
	rm -rf "${HOME}/.m2/repository/org/keycloak/keycloak-quarkus-dist/$version"
	echo "fetched keycloak in $((SECONDS - start))s" >&2
fi
echo "$dir"
