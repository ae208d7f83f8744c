#!/usr/bin/env bash
# Stops the cluster start-cluster.sh started and undoes what it changed:
#   stop-cluster.sh [state dir]
# Processes by the pids it recorded (each checked by name first), every pod
# sandbox through the runtime (so the CNI plugins remove their addresses and
# iptables rules), the shims of our containerd, mounts under the state dir,
# kube-router's chains and ipsets, kube-proxy's, the kubelet's
# and the CNI plugins' iptables chains, both
# bridges, the kubepods cgroups, and the host sysctls as they were.
# Safe to run twice, or after a half start. Images stay (state/images).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${1:-${PORTCULLIS_CLUSTER_DIR:-/var/lib/portcullis-cluster}}"
run="$state/run"
sock="$run/containerd/containerd.sock"
[[ -d "$state" ]] || exit 0
# One start or stop at a time; a start waits for a stop still running.
exec 8>"$state/lock"
flock -w 300 8 || echo "stop-cluster.sh: $state/lock stayed held; stopping anyway" >&2
t0=$SECONDS
say() { echo "[cluster stop +$((SECONDS - t0))s] $*" >&2; }

stop() { # stop <pid> <name>: TERM, then KILL after a grace period
	local pid="$1" name="$2" tries=50
	[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "${name:0:15}" ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	# The API server stops listening at once, then lingers: a short grace.
	[[ "$name" == kube-apiserver ]] && tries=15
	for _ in $(seq "$tries"); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null
	say "killed $name ($pid)"
}

tools="$(awk '{ print $0 }' "$state/tools" 2>/dev/null)"
if [[ -f "$state/pids" ]]; then
	# Everything but containerd, newest first.
	tac "$state/pids" | while read -r pid name; do
		[[ "$name" == containerd ]] || stop "$pid" "$name"
	done
	# Pod sandboxes, through the runtime while it still runs.
	if [[ -S "$sock" && -x "$tools/crictl" ]]; then
		timeout 90 "$tools/crictl" --runtime-endpoint "unix://$sock" --timeout 30s rmp -fa >/dev/null 2>&1 ||
			say "crictl rmp failed; removing what is left by hand"
	fi
	while read -r pid name; do
		[[ "$name" == containerd ]] && stop "$pid" "$name"
	done <"$state/pids"
	rm -f "$state/pids"
fi
# Shims of our containerd outlive it; they carry its socket's path.
for proc in /proc/[0-9]*; do
	if tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | grep -q -- "-address $sock"; then
		kill -KILL "${proc#/proc/}" 2>/dev/null && say "killed shim ${proc#/proc/}"
	fi
done
# Mounts under the state dir, deepest first.
findmnt -rn -o TARGET | grep "^$state/" | sort -r | while read -r mount; do
	umount "$mount" 2>/dev/null || umount -l "$mount"
done
# kube-router's firewall: its iptables chains and ipsets.
[[ -x "$tools/kube-router" ]] && timeout 30 "$tools/kube-router" --cleanup-config >/dev/null 2>&1
# kube-proxy's chains.
[[ -x "$tools/kube-proxy" ]] && timeout 30 "$tools/kube-proxy" --cleanup >/dev/null 2>&1
# The kubelet's and kube-proxy's chains (KUBE-*: only a kubelet or
# kube-proxy makes them), and the CNI bridge plugin's masquerade chains of
# our network (their rules carry its name; other CNI users' stay).
for ipt in iptables ip6tables; do
	command -v "$ipt" >/dev/null || continue
	for table in filter nat mangle; do
		rules="$("$ipt" -t "$table" -S 2>/dev/null)"
		ours="$(awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }' <<<"$rules")"
		ours+=$'\n'"$(grep -- 'portcullis-test' <<<"$rules" | grep -o -- '-j CNI-[A-Za-z0-9-]*' | cut -c4- | sort -u)"
		grep -E -- '-j KUBE-|portcullis-test' <<<"$rules" | grep '^-A' | while read -r rule; do
			eval "\"$ipt\" -t $table -D ${rule#-A }" 2>/dev/null
		done
		for chain in $ours; do
			"$ipt" -t "$table" -F "$chain" 2>/dev/null
		done
		for chain in $ours; do
			"$ipt" -t "$table" -X "$chain" 2>/dev/null
		done
	done
done
# Bridges.
if [[ -f "$state/bridges" ]]; then
	while read -r bridge; do
		ip link del "$bridge" 2>/dev/null
	done <"$state/bridges"
	rm -f "$state/bridges"
fi
# Host sysctls as they were.
if [[ -f "$state/sysctl.saved" ]]; then
	# shellcheck disable=SC2046
	sysctl -qw $(cat "$state/sysctl.saved") && rm -f "$state/sysctl.saved"
fi
# kubepods cgroups (v1: one tree per controller), deepest first.
for cgroup in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
	[[ -d "$cgroup" ]] && find "$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null
done
# The run state (etcd data, containerd's content); images stay.
rm -rf "$run"
say "cluster stopped"
exit 0
