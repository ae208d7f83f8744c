#!/usr/bin/env bash
# Runs the whole login path on this machine with embedded defaults: the test
# identity provider with demo users, the echo app, and the sidecar in front of
# it. Everything listens on 127.0.0.1; Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."

IDP_PORT=${IDP_PORT:-9000}
APP_PORT=${APP_PORT:-8080}
SIDECAR_PORT=${SIDECAR_PORT:-4180}
ADMIN_PORT=${ADMIN_PORT:-9090}
ROOT_PASSWORD=${ROOT_PASSWORD:-demo-root-password}
PUBLIC_URL="http://127.0.0.1:${SIDECAR_PORT}"
BIN=target/debug
WORK=target/demo
mkdir -p "$WORK"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping the demo..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

wait_for_line() { # file marker
  for _ in $(seq 1 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  return 1
}

printf '%s' "portcullis-secret" >"$WORK/client-secret"
[ -s "$WORK/session-keys" ] || "$BIN/portcullis-sidecar" generate-key >"$WORK/session-keys"
echo "$ROOT_PASSWORD" | "$BIN/portcullis-sidecar" hash-password >"$WORK/root-password-hash"
cat >"$WORK/sidecar.yaml" <<YAML
listen: 127.0.0.1:${SIDECAR_PORT}
adminListen: 127.0.0.1:${ADMIN_PORT}
upstream: http://127.0.0.1:${APP_PORT}
publicUrl: ${PUBLIC_URL}
oidc:
  wellKnownUrl: http://127.0.0.1:${IDP_PORT}/.well-known/openid-configuration
  clientId: portcullis
  clientSecretFile: ${PWD}/${WORK}/client-secret
  scopes: [openid, profile, email, groups]
  usernameClaim: preferred_username
  groupClaim: groups
rootAdmin:
  username: root
  passwordHashFile: ${PWD}/${WORK}/root-password-hash
session:
  keyFile: ${PWD}/${WORK}/session-keys
YAML

CLIENTS="[{\"client_id\":\"portcullis\",\"client_secret\":\"portcullis-secret\",\"redirect_uris\":[\"${PUBLIC_URL}/auth/oidc\"],\"post_logout_redirect_uris\":[\"${PUBLIC_URL}/\",\"${PUBLIC_URL}/login\"]}]"
IDP_PORT=$IDP_PORT IDP_CLIENTS=$CLIENTS node tests/idp/idp.mjs >"$WORK/idp.out" 2>"$WORK/idp.log" &
pids+=($!)
"$BIN/echo-upstream" "$APP_PORT" >"$WORK/app.out" 2>&1 &
pids+=($!)
wait_for_line "$WORK/idp.out" IDP_READY
wait_for_line "$WORK/app.out" ECHO_READY
"$BIN/portcullis-sidecar" check-config "$WORK/sidecar.yaml"
"$BIN/portcullis-sidecar" --config "$WORK/sidecar.yaml" 2>"$WORK/sidecar.log" &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:${ADMIN_PORT}/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

cat <<TEXT

  Portcullis demo is running.

  Open            ${PUBLIC_URL}/
  Backup login    ${PUBLIC_URL}/login?backup=1   (root / ${ROOT_PASSWORD})
  Your identity   ${PUBLIC_URL}/auth/me
  Health, metrics http://127.0.0.1:${ADMIN_PORT}/readyz  /metrics

  Users at the identity provider (password: <name>-pw):
    alice   groups [admin, staff]    -> admin
    trudy   groups [trusted]         -> trusted
    mixed   groups "Staff TRUSTED"   -> trusted
    ursula  no groups                -> untrusted
    root    groups [untrusted]       -> admin, root admin (same name as the root admin)
    shorty  access token of 3 s      -> session ends after 3 s

  Logs: ${WORK}/sidecar.log (JSON), ${WORK}/idp.log
  Press Ctrl-C to stop.
TEXT
wait -n "${pids[@]}"
