#!/usr/bin/env bash
# Usage: stop-kube.sh <work dir>
# Stops the kube-apiserver and etcd started by start-kube.sh (pids from
# <work dir>/pids): SIGTERM, then SIGKILL after $PORTCULLIS_KUBE_STOP_GRACE
# seconds (default 10). Leaves the other files in place.
set -euo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 <work dir>" >&2
	exit 2
fi
pids_file="$1/pids"
[[ -f "$pids_file" ]] || exit 0

grace="${PORTCULLIS_KUBE_STOP_GRACE:-10}"
mapfile -t pids <"$pids_file"
# kube-apiserver first, then etcd (the file lists them in that order).
for pid in "${pids[@]}"; do
	[[ "$pid" =~ ^[0-9]+$ ]] || continue
	# Never signal a recycled pid that is not ours.
	comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
	[[ "$comm" == etcd || "$comm" == kube-apiserver ]] || continue
	kill -TERM "$pid" 2>/dev/null || continue
	for _ in $(seq 1 $((grace * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
done
rm -f "$pids_file"
