#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from Go modules (versions pinned in
# tests/tools/kube/go.mod) into a cache outside the clone:
#   ${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}/kube-v<k8s version>/{kube-apiserver,etcd}
# With --node it also builds what a single-node cluster needs (kubelet,
# kube-controller-manager, kube-scheduler, kube-proxy, kubectl; CoreDNS,
# crictl and kube-router from their own modules under tests/tools/)
# into the same directory.
# Idempotent: builds only what is missing. Prints the directory as its last line.
# The first build takes tens of minutes on 2 cores; build logs go to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/kube"

# Versions come from go.mod only.
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$mod/go.mod")"
etcd_version="$(grep -Eo 'go\.etcd\.io/etcd/server/v3 v[^ ]+' "$mod/go.mod" | head -n1 | cut -d' ' -f2)"
[[ "$kube_version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || { echo "cannot read k8s.io/kubernetes version from $mod/go.mod" >&2; exit 1; }
kube_minor="${BASH_REMATCH[1]}"
[[ -n "$etcd_version" ]] || { echo "cannot read etcd version from $mod/go.mod" >&2; exit 1; }

tools_root="${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}"
dir="$tools_root/kube-$kube_version"
mkdir -p "$dir"

# One build at a time per cache directory.
exec 9>"$dir/.lock"
flock 9

build() { # build <output name> <package> [extra ldflags]
	local name="$1" pkg="$2" extra="${3:-}"
	if [[ -x "$dir/$name" ]]; then
		return 0
	fi
	command -v go >/dev/null || { echo "go is required to build $name" >&2; exit 1; }
	local tmp
	tmp="$(mktemp "$dir/.$name.XXXXXX")"
	local start=$SECONDS
	echo "building $name ($pkg) into $dir ..." >&2
	if ! (cd "$mod" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath \
		-ldflags="-s -w $extra" -o "$tmp" "$pkg") >&2; then
		rm -f "$tmp"
		echo "building $name failed" >&2
		exit 1
	fi
	chmod 0755 "$tmp"
	mv -f "$tmp" "$dir/$name"
	echo "built $name in $((SECONDS - start))s" >&2
}

# Same version stamps as the official build (hack/lib/version.sh), so /version
# and --version report the real release instead of v0.0.0-master.
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
	kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# The directory is keyed by the Kubernetes version; rebuild etcd if go.mod moved
# it to another release under the same Kubernetes version.
if [[ -f "$dir/VERSIONS" ]] && ! grep -qx "etcd $etcd_version" "$dir/VERSIONS"; then
	rm -f "$dir/etcd"
fi

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"

if [[ "${1:-}" == "--node" ]]; then
	for name in kubelet kube-controller-manager kube-scheduler kube-proxy kubectl; do
		build "$name" "k8s.io/kubernetes/cmd/$name" "$kube_ldflags"
	done
	# CoreDNS, crictl and kube-router (the NetworkPolicy enforcer) from their own modules
	# (their go.mod pins them).
	versions=""
	for tool in coredns:github.com/coredns/coredns:github.com/coredns/coredns \
		crictl:sigs.k8s.io/cri-tools:sigs.k8s.io/cri-tools/cmd/crictl \
		kube-router:github.com/cloudnativelabs/kube-router/v2:github.com/cloudnativelabs/kube-router/v2/cmd/kube-router; do
		IFS=: read -r name module pkg <<<"$tool"
		mod="$here/$name"
		version="$(awk -v m="$module" '$1 == m { print $2 }' "$mod/go.mod")"
		[[ -n "$version" ]] || { echo "cannot read the $module version from $mod/go.mod" >&2; exit 1; }
		if [[ -f "$dir/VERSIONS" ]] && grep -q "^$name " "$dir/VERSIONS" && ! grep -qx "$name $version" "$dir/VERSIONS"; then
			rm -f "$dir/$name"
		fi
		build "$name" "$pkg"
		versions+="$name $version"$'\n'
	done
	printf 'kubernetes %s\netcd %s\n%s' "$kube_version" "$etcd_version" "$versions" >"$dir/VERSIONS"
	echo "$dir"
	exit 0
fi

# Keep the lines of the node tools a --node run wrote.
others="$(grep -Ev '^(kubernetes|etcd) ' "$dir/VERSIONS" 2>/dev/null || true)"
printf 'kubernetes %s\netcd %s\n%s' "$kube_version" "$etcd_version" "${others:+$others$'\n'}" >"$dir/VERSIONS"
echo "$dir"
