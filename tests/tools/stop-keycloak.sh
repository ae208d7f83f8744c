#!/usr/bin/env bash
# Stops the Keycloak that start-keycloak.sh started in <work dir>: SIGTERM to
# its process group, SIGKILL after 10 s.
set -uo pipefail
work="$1"
pid="$(cat "$work/pid" 2>/dev/null)" || exit 0
kill -- "-$pid" 2>/dev/null || exit 0
for _ in $(seq 1 20); do
	kill -0 "$pid" 2>/dev/null || exit 0
	sleep 0.5
done
kill -KILL -- "-$pid" 2>/dev/null || true
