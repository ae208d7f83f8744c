#!/usr/bin/env bash
# Builds Helm 3 and Helm 4 from their Go modules (versions in
# tests/tools/helm-versions) with `go install` into a cache outside the clone:
#   ${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}/helm-<version>/helm
# Idempotent: builds only what is missing. Prints the directories, one a line.
# Build logs and times go to stderr.
#   install-helm.sh        every release in helm-versions
#   install-helm.sh v3     only the release of that major version
set -euo pipefail

only="${1:-}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools_root="${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}"

build() { # build <major> <version>
	local major="$1" version="$2"
	local dir="$tools_root/helm-$version"
	mkdir -p "$dir"
	(
		exec 9>"$dir/.lock"
		flock 9
		if [[ -x "$dir/helm" ]]; then
			exit 0
		fi
		command -v go >/dev/null || { echo "go is required to build helm $version" >&2; exit 1; }
		local gobin start
		gobin="$(mktemp -d "$dir/.gobin.XXXXXX")"
		start=$SECONDS
		echo "building helm $version into $dir ..." >&2
		# The stamps Helm's own release build sets: the version, so `helm
		# version` names the release, and (Helm 3) the Kubernetes version of
		# its client-go, which `helm template` and `helm lint` assume; without
		# it they assume v1.20 and refuse the chart's kubeVersion. Helm 4
		# reads the latter from the build info itself.
		local gomod client_go k8s_minor
		gomod="$(GOWORK=off go mod download -json "helm.sh/helm/$major@$version" |
			sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
		client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$gomod")"
		[[ "$client_go" =~ ^v0\.([0-9]+)\. ]] ||
			{ echo "cannot read k8s.io/client-go from $gomod" >&2; exit 1; }
		k8s_minor="${BASH_REMATCH[1]}"
		local ldflags="-s -w -X helm.sh/helm/$major/internal/version.version=$version"
		for pkg in pkg/lint/rules pkg/chartutil; do
			ldflags+=" -X helm.sh/helm/$major/$pkg.k8sVersionMajor=1"
			ldflags+=" -X helm.sh/helm/$major/$pkg.k8sVersionMinor=$k8s_minor"
		done
		if ! GOBIN="$gobin" GOWORK=off CGO_ENABLED=0 go install -trimpath -ldflags="$ldflags" \
			"helm.sh/helm/$major/cmd/helm@$version" >&2; then
			rm -rf "$gobin"
			echo "building helm $version failed" >&2
			exit 1
		fi
		mv -f "$gobin/helm" "$dir/helm"
		rm -rf "$gobin"
		echo "built helm $version in $((SECONDS - start))s" >&2
	)
	echo "$dir"
}

while read -r major version; do
	[[ -z "$major" || "$major" == \#* ]] && continue
	[[ "$major" =~ ^v[0-9]+$ && "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
		{ echo "bad line in $here/helm-versions: $major $version" >&2; exit 1; }
	[[ -z "$only" || "$major" == "$only" ]] || continue
	build "$major" "$version"
	found=1
done <"$here/helm-versions"
[[ -n "${found:-}" ]] || { echo "no Helm ${only:-release} in $here/helm-versions" >&2; exit 1; }
