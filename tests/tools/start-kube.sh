#!/usr/bin/env bash
# Usage: start-kube.sh <tools dir> <work dir>
#
# Starts etcd and kube-apiserver (as built by install-kube-tools.sh, whose last
# output line is <tools dir>) on free 127.0.0.1 ports, with all state in
# <work dir>. Waits (bounded by $PORTCULLIS_KUBE_START_TIMEOUT, default 60 s)
# until /readyz answers ok and the "default" namespace exists, then prints the
# kubeconfig path as its last line. Files written in <work dir>:
#   kubeconfig   admin, bearer token, CA of the generated serving certificate
#   pids         kube-apiserver and etcd process ids (one a line) for stop-kube.sh
#   env          KUBE_APISERVER_URL, KUBE_TOKEN, ETCD_URL (shell syntax)
#   token, tokens.csv, sa.key, certs/, etcd-data/, etcd.log, kube-apiserver.log
# No kubelet, no controller-manager: pods are stored, never run; garbage
# collection and namespace deletion never complete.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 <tools dir> <work dir>" >&2
	exit 2
fi
tools="$(cd "$1" && pwd)"
mkdir -p "$2"
work="$(cd "$2" && pwd)"
timeout="${PORTCULLIS_KUBE_START_TIMEOUT:-60}"

for bin in etcd kube-apiserver; do
	[[ -x "$tools/$bin" ]] || { echo "missing $tools/$bin (run install-kube-tools.sh)" >&2; exit 1; }
done
for cmd in openssl curl base64 setsid; do
	command -v "$cmd" >/dev/null || { echo "$cmd is required" >&2; exit 1; }
done
if [[ -s "$work/pids" ]]; then
	echo "$work/pids exists: already started? run stop-kube.sh $work first" >&2
	exit 1
fi

# A port nobody listens on right now, below the kernel's ephemeral range so
# that no outgoing connection takes it between this check and the bind.
ephemeral_low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
port_low=20000
port_span=$((ephemeral_low - port_low))
taken=" "
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((port_low + RANDOM % port_span))
		[[ "$taken" == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			taken+="$p "
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}
etcd_client_port="$(free_port)"
etcd_peer_port="$(free_port)"
api_port="$(free_port)"
etcd_url="http://127.0.0.1:$etcd_client_port"
api_url="https://127.0.0.1:$api_port"

# Credentials.
umask 077
token="$(openssl rand -hex 32)"
printf '%s\n' "$token" >"$work/token"
printf '%s,portcullis-admin,portcullis-admin,"system:masters"\n' "$token" >"$work/tokens.csv"
[[ -f "$work/sa.key" ]] || openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
mkdir -p "$work/certs" "$work/etcd-data"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cleanup_on_error() {
	# An apiserver that never reached etcd ignores SIGTERM: keep the grace short.
	PORTCULLIS_KUBE_STOP_GRACE=3 "$here/stop-kube.sh" "$work" || true
	for log in etcd kube-apiserver; do
		if [[ -f "$work/$log.log" ]]; then
			echo "--- last lines of $work/$log.log" >&2
			tail -n 20 "$work/$log.log" >&2
		fi
	done
}
trap 'cleanup_on_error' ERR

setsid "$tools/etcd" \
	--name=portcullis \
	--data-dir="$work/etcd-data" \
	--listen-client-urls="$etcd_url" \
	--advertise-client-urls="$etcd_url" \
	--listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
	--initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
	--initial-cluster="portcullis=http://127.0.0.1:$etcd_peer_port" \
	--unsafe-no-fsync=true \
	--log-level=warn \
	</dev/null >"$work/etcd.log" 2>&1 &
etcd_pid=$!
echo "$etcd_pid" >"$work/pids"

setsid "$tools/kube-apiserver" \
	--bind-address=127.0.0.1 \
	--advertise-address=127.0.0.1 \
	--secure-port="$api_port" \
	--cert-dir="$work/certs" \
	--etcd-servers="$etcd_url" \
	--service-account-issuer="$api_url" \
	--service-account-key-file="$work/sa.key" \
	--service-account-signing-key-file="$work/sa.key" \
	--service-cluster-ip-range=10.0.0.0/24 \
	--authorization-mode=RBAC \
	--disable-admission-plugins=ServiceAccount \
	--token-auth-file="$work/tokens.csv" \
	--endpoint-reconciler-type=none \
	--allow-privileged=true \
	--profiling=false \
	</dev/null >"$work/kube-apiserver.log" 2>&1 &
api_pid=$!
printf '%s\n%s\n' "$api_pid" "$etcd_pid" >"$work/pids"

# Wait for readiness.
deadline=$((SECONDS + timeout))
ready=""
while ((SECONDS < deadline)); do
	for pid in "$etcd_pid" "$api_pid"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "process $pid exited early" >&2
			false
		fi
	done
	if [[ -s "$work/certs/apiserver.crt" ]] &&
		[[ "$(curl -s --max-time 5 --cacert "$work/certs/apiserver.crt" -H "Authorization: Bearer $token" "$api_url/readyz" || true)" == ok ]] &&
		curl -sf -o /dev/null --max-time 5 --cacert "$work/certs/apiserver.crt" -H "Authorization: Bearer $token" "$api_url/api/v1/namespaces/default"; then
		ready=1
		break
	fi
	sleep 0.5
done
if [[ -z "$ready" ]]; then
	echo "kube-apiserver not ready after ${timeout}s" >&2
	false
fi
trap - ERR

ca_data="$(base64 -w0 <"$work/certs/apiserver.crt")"
cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: portcullis-test
  cluster:
    server: $api_url
    certificate-authority-data: $ca_data
users:
- name: portcullis-admin
  user:
    token: $token
contexts:
- name: portcullis-test
  context:
    cluster: portcullis-test
    user: portcullis-admin
    namespace: default
current-context: portcullis-test
EOF
cat >"$work/env" <<EOF
KUBE_APISERVER_URL=$api_url
KUBE_TOKEN=$token
ETCD_URL=$etcd_url
EOF
echo "$work/kubeconfig"
