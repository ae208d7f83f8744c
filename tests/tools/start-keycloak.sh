#!/usr/bin/env bash
# Starts Keycloak from the tool cache on a free 127.0.0.1 port with a fresh
# in-memory database, imports tests/keycloak/portcullis-realm.json through
# the admin API, and prints the server URL as its last line.
#   start-keycloak.sh <keycloak dir> <work dir>
# Writes <work dir>/pid and <work dir>/keycloak.log. Nothing is written into
# the cache except Keycloak's own build step (serialised with flock).
# Bounded by PORTCULLIS_KEYCLOAK_START_TIMEOUT seconds (default 180).
set -euo pipefail

kc="$1"
work="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
realm_file="$here/../keycloak/portcullis-realm.json"
timeout="${PORTCULLIS_KEYCLOAK_START_TIMEOUT:-180}"
mkdir -p "$work"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
admin_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"

# A newer Java starts Keycloak faster; the system's Java 17 works too.
for jdk in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64; do
	if [[ -z "${JAVA_HOME:-}" && -x "$jdk/bin/java" ]]; then
		export JAVA_HOME="$jdk"
	fi
done

start=$SECONDS
# The build step rewrites lib/ in the cache: one start at a time per install.
exec 9>"$kc/.start.lock"
flock 9
JAVA_OPTS_KC_HEAP="-Xms64m -Xmx256m" \
	KC_BOOTSTRAP_ADMIN_USERNAME=bootstrap KC_BOOTSTRAP_ADMIN_PASSWORD="$admin_password" \
	setsid "$kc/bin/kc.sh" start-dev --db=dev-mem --http-host=127.0.0.1 --http-port="$port" \
	--http-management-port=0 --health-enabled=false --log-level=warn \
	</dev/null >"$work/keycloak.log" 2>&1 &
echo $! >"$work/pid"

url="http://127.0.0.1:$port"
until curl -sf -o /dev/null "$url/realms/master/.well-known/openid-configuration"; do
	if ! kill -0 "$(cat "$work/pid")" 2>/dev/null || (( SECONDS - start > timeout )); then
		echo "keycloak did not start within ${timeout}s:" >&2
		tail -n 40 "$work/keycloak.log" >&2
		kill -- "-$(cat "$work/pid")" 2>/dev/null || true
		exit 1
	fi
	sleep 0.5
done
flock -u 9
ready=$((SECONDS - start))

token="$(curl -sf "$url/realms/master/protocol/openid-connect/token" \
	-d grant_type=password -d client_id=admin-cli -d username=bootstrap \
	--data-urlencode "password=$admin_password" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
curl -sf -o /dev/null -X POST "$url/admin/realms" -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' --data-binary "@$realm_file" || {
	echo "importing $realm_file failed" >&2
	kill -- "-$(cat "$work/pid")" 2>/dev/null || true
	exit 1
}
echo "keycloak ready in ${ready}s, realm imported in $((SECONDS - start - ready))s" >&2
echo "$url"
