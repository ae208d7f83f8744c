#!/usr/bin/env bash
# Installs nginx, the plain reverse proxy `make bench` compares the sidecar
# with: Debian's nginx-light when no nginx is on PATH. Prints the binary's
# path on stdout (everything else goes to stderr). The package's own service
# is never used: bench/run.py starts nginx itself with a generated config.
set -euo pipefail

log() { echo "install-nginx: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }

if ! find_nginx >/dev/null; then
  log "installing nginx-light from Debian"
  as_root apt-get update -qq >&2
  # policy-rc.d-less containers may try to start the service; a failure there is not ours.
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nginx-light >&2 || true
  find_nginx >/dev/null || { log "nginx is still missing after the install"; exit 1; }
fi

find_nginx
