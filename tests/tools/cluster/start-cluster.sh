#!/usr/bin/env bash
# Starts a real single-node Kubernetes cluster on addresses inside this
# machine only, for the tests and `make demo-cluster`:
#   start-cluster.sh <tools dir> <mkimage binary> [state dir]
# <tools dir> is what `install-kube-tools.sh --node` printed; the state dir
# defaults to $PORTCULLIS_CLUSTER_DIR or /var/lib/portcullis-cluster.
#
# containerd (Debian) with runc, bridge CNI, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, a kubelet, kube-proxy (iptables),
# CoreDNS, and kube-router's firewall enforcing NetworkPolicy. No registry: the pause and CoreDNS images are built here
# from files (tests/src/bin/mkimage.rs) and imported into containerd.
#
# Addresses: the node is 10.250.0.1 on the empty bridge portcullis0 (the
# kubelet refuses a loopback node IP); the API server (:6443) and the kubelet
# (:10250) listen there, everything else on 127.0.0.1. Pods get 10.244.0.0/24
# on the bridge portcullis-cni, Services 10.96.0.0/24, DNS 10.96.0.10.
# NodePorts answer on 127.0.0.1 and 10.250.0.1 only.
#
# Every process started is written to <state>/pids ("<pid> <name>") before
# anything waits on it, so stop-cluster.sh can always undo a half start; on
# failure this script runs it itself. Progress goes to stderr; the last line
# on stdout is `CLUSTER_READY <admin kubeconfig>`.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${1:?usage: start-cluster.sh <tools dir> <mkimage binary> [state dir]}"
mkimage="${2:?usage: start-cluster.sh <tools dir> <mkimage binary> [state dir]}"
state="${3:-${PORTCULLIS_CLUSTER_DIR:-/var/lib/portcullis-cluster}}"
timeout="${PORTCULLIS_CLUSTER_START_TIMEOUT:-120}"

NODE=portcullis-node
NODE_IP=10.250.0.1
NODE_BRIDGE=portcullis0
CNI_BRIDGE=portcullis-cni
API="https://$NODE_IP:6443"
SANDBOX_IMAGE=localhost/portcullis-test/pause:cluster
COREDNS_IMAGE=localhost/portcullis-test/coredns:cluster

t0=$SECONDS
say() { echo "[cluster +$((SECONDS - t0))s] $*" >&2; }
fail() { echo "cannot start the test cluster: $*" >&2; exit 1; }

# --- What this machine must offer; each missing piece is named.
[[ "$(id -u)" == 0 ]] || fail "it needs root (containerd, the kubelet, bridges and iptables), and runs as uid $(id -u)"
for cmd in containerd ctr runc iptables ipset ip sysctl openssl curl gcc findmnt flock nsenter timeout; do
	command -v "$cmd" >/dev/null || fail "$cmd is not installed (make cluster-deps installs the Debian packages)"
done
for plugin in bridge host-local portmap loopback; do
	[[ -x /usr/lib/cni/$plugin ]] || fail "the CNI plugin /usr/lib/cni/$plugin is missing (Debian package containernetworking-plugins)"
done
for bin in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns crictl kube-router; do
	[[ -x "$tools/$bin" ]] || fail "$tools/$bin is missing (tests/tools/install-kube-tools.sh --node builds it)"
done
[[ -x "$mkimage" ]] || fail "$mkimage is missing (cargo build -p portcullis-e2e --bin mkimage)"
[[ -d /sys/fs/cgroup/memory || -f /sys/fs/cgroup/cgroup.controllers ]] || fail "no cgroup filesystem at /sys/fs/cgroup"
ip link add pcl-probe type bridge 2>/dev/null && ip link del pcl-probe ||
	fail "cannot create a network bridge (ip link add type bridge): $(ip link add pcl-probe type bridge 2>&1)"

mkdir -p "$state"
exec 8>"$state/lock"
flock -w 300 8 || fail "another start or stop of the cluster in $state held $state/lock for 300 s"
if [[ -f "$state/pids" ]]; then
	while read -r pid name; do
		if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "${name:0:15}" ]]; then
			fail "a cluster is already running from $state ($name pid $pid); stop it with tests/tools/cluster/stop-cluster.sh $state"
		fi
	done <"$state/pids"
	fail "$state/pids is left from a cluster that was not stopped; run tests/tools/cluster/stop-cluster.sh $state"
fi
for port in 6443 10250 2379 2380 10248 10249 10256 10257 10259; do
	if ss -Hltn "sport = :$port" | grep -q .; then
		fail "port $port is already in use: $(ss -Hltnp "sport = :$port" | head -n1)"
	fi
done

run="$state/run"
logs="$state/logs"
rm -rf "$run"
mkdir -p "$run/pki" "$logs" "$run/cni/net.d" "$state/images"
: >"$state/pids"
echo "$tools" >"$state/tools"

# From here on, a failure stops whatever was started.
started=no
on_exit() {
	local status=$?
	[[ "$started" == no && "$status" != 0 ]] || return 0
	echo "cannot start the test cluster (exit $status); last log lines:" >&2
	for log in "$logs"/*.log; do
		[[ -s "$log" ]] && { echo "--- $log" >&2; tail -n 15 "$log" >&2; }
	done
	flock -u 8
	"$here/stop-cluster.sh" "$state" >&2 || true
	exit "$status"
}
trap on_exit EXIT

start() { # start <name> <command...>: in its own session, pid recorded first
	local name="$1"
	shift
	setsid "$@" </dev/null >"$logs/$name.log" 2>&1 8>&- &
	echo "$! $name" >>"$state/pids"
	say "started $name (pid $!)"
}

wait_for() { # wait_for <what> <command...>: bounded by $timeout
	local what="$1" deadline=$((SECONDS + timeout))
	shift
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS > deadline)); then
			echo "timed out after ${timeout}s waiting for $what" >&2
			return 1
		fi
		sleep 0.3
	done
	say "$what"
}

# --- Host network: the node's address on an empty bridge. The kubelet and
# kube-proxy change host sysctls while they run; keep the old values.
sysctls="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys
kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet net.ipv4.ip_forward"
[[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null ||
	fail "net.bridge.bridge-nf-call-iptables is missing and br_netfilter cannot be loaded"
sysctls+=" net.bridge.bridge-nf-call-iptables"
for key in $sysctls; do
	echo "$key=$(sysctl -n "$key")"
done >"$state/sysctl.saved"
ip link add "$NODE_BRIDGE" type bridge
echo "$NODE_BRIDGE" >"$state/bridges"
echo "$CNI_BRIDGE" >>"$state/bridges"
ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1

# --- Credentials: our own CA for the API server's certificate (pods trust
# it through the controller-manager's --root-ca-file), bearer tokens for
# every client.
cd "$run/pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 \
	-subj /CN=portcullis-test-cluster-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
printf 'subjectAltName=IP:%s,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' \
	"$NODE_IP" >apiserver.ext
openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
	-days 7 -extfile apiserver.ext 2>/dev/null
openssl genrsa -out sa.key 2048 2>/dev/null
: >tokens.csv
chmod 0600 tokens.csv
for entry in "admin|portcullis-admin|system:masters" "kubelet|system:node:$NODE|system:nodes" \
	"controller-manager|system:kube-controller-manager|" "scheduler|system:kube-scheduler|" \
	"proxy|system:kube-proxy|"; do
	IFS='|' read -r client user group <<<"$entry"
	token="$(openssl rand -hex 24)"
	echo "$token,$user,$user,\"$group\"" >>tokens.csv
	umask 077
	cat >"$run/$client.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: portcullis-test, cluster: {server: "$API", certificate-authority: "$run/pki/ca.crt"}}]
users: [{name: $client, user: {token: "$token"}}]
contexts: [{name: portcullis-test, context: {cluster: portcullis-test, user: $client, namespace: default}}]
current-context: portcullis-test
EOF
	umask 022
done
cd "$state"

# --- Configuration files.
cat >"$run/containerd.toml" <<EOF
version = 2
root = "$run/containerd/root"
state = "$run/containerd/state"
oom_score = 0
[grpc]
  address = "$run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  # This VM drops cap_sys_resource: containerd must not ask for a negative
  # oom_score_adj (every sandbox would fail to start).
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$run/cni/net.d"
    max_conf_num = 1
EOF
cat >"$run/cni/net.d/10-portcullis.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "portcullis-test",
  "plugins": [
    {
      "type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]],
               "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$run/cni-ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
cat >"$run/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM has cgroup v1 and no systemd; kubelet >= 1.35 refuses v1 unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$run/containerd/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# The API server's calls to the kubelet (logs, exec, port-forward) are not
# authenticated: only this machine can reach the node address.
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
resolvConf: /etc/resolv.conf
failSwapOn: false
# cap_sys_resource is dropped: the kubelet cannot lower its own score.
oomScoreAdj: 0
podLogsDir: $run/pod-logs
rotateCertificates: false
serverTLSBootstrap: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
registerNode: true
maxPods: 50
EOF
cat >"$run/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: "$run/proxy.kubeconfig"}
hostnameOverride: $NODE
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: 10.244.0.0/16
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0}
nodePortAddresses: ["127.0.0.1/32", "$NODE_IP/32"]
EOF

# --- Images: pause (static C) and CoreDNS, archives built from their
# Dockerfiles' final stages, kept across runs.
images="$here/images"
if [[ ! -s "$state/images/pause.tar" ]]; then
	gcc -static -Os -s -o "$run/pause" "$images/pause/pause.c"
	"$mkimage" --dockerfile "$images/pause/Dockerfile" --tag "$SANDBOX_IMAGE" \
		--out "$state/images/pause.tar" --file "pause=$run/pause" >/dev/null
fi
if [[ ! -s "$state/images/coredns.tar" || "$tools/coredns" -nt "$state/images/coredns.tar" ]]; then
	"$mkimage" --dockerfile "$images/coredns/Dockerfile" --tag "$COREDNS_IMAGE" \
		--out "$state/images/coredns.tar" --file "coredns=$tools/coredns" >/dev/null
fi

# --- containerd, then the images.
mkdir -p "$run/containerd"
start containerd containerd --config "$run/containerd.toml"
ctr_() { ctr --address "$run/containerd/containerd.sock" "$@"; }
wait_for "containerd ready" ctr_ version
for archive in "$state/images/pause.tar" "$state/images/coredns.tar"; do
	ctr_ -n k8s.io images import "$archive" >/dev/null
done
say "images imported"

# --- etcd and the API server.
start etcd "$tools/etcd" --name=portcullis-node --data-dir="$run/etcd-data" \
	--listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
	--listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
	--initial-cluster=portcullis-node=http://127.0.0.1:2380 --unsafe-no-fsync=true --log-level=warn
start kube-apiserver "$tools/kube-apiserver" \
	--bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port=6443 \
	--tls-cert-file="$run/pki/apiserver.crt" --tls-private-key-file="$run/pki/apiserver.key" \
	--etcd-servers=http://127.0.0.1:2379 \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$run/pki/sa.key" --service-account-signing-key-file="$run/pki/sa.key" \
	--service-cluster-ip-range=10.96.0.0/24 \
	--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
	--token-auth-file="$run/pki/tokens.csv" --allow-privileged=true --profiling=false \
	--kubelet-preferred-address-types=InternalIP,Hostname
admin_token="$(awk -F, '$2 == "portcullis-admin" { print $1 }' "$run/pki/tokens.csv")"
wait_for "API server ready" curl -sf --max-time 2 --cacert "$run/pki/ca.crt" \
	-H "Authorization: Bearer $admin_token" "$API/readyz"

# --- Controller manager and scheduler (no leader election: one of each).
start kube-controller-manager "$tools/kube-controller-manager" \
	--kubeconfig="$run/controller-manager.kubeconfig" \
	--authentication-kubeconfig="$run/controller-manager.kubeconfig" \
	--authorization-kubeconfig="$run/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
	--service-account-private-key-file="$run/pki/sa.key" --root-ca-file="$run/pki/ca.crt" \
	--cluster-signing-cert-file="$run/pki/ca.crt" --cluster-signing-key-file="$run/pki/ca.key" \
	--service-cluster-ip-range=10.96.0.0/24 --allocate-node-cidrs=false --profiling=false
start kube-scheduler "$tools/kube-scheduler" \
	--kubeconfig="$run/scheduler.kubeconfig" --authentication-kubeconfig="$run/scheduler.kubeconfig" \
	--authorization-kubeconfig="$run/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --profiling=false

# --- The node: kubelet and kube-proxy.
mkdir -p "$run/kubelet" "$run/pod-logs"
start kubelet "$tools/kubelet" --config="$run/kubelet.yaml" --kubeconfig="$run/kubelet.kubeconfig" \
	--hostname-override="$NODE" --node-ip="$NODE_IP" --root-dir="$run/kubelet" \
	--cert-dir="$run/kubelet/pki" --v=1
start kube-proxy "$tools/kube-proxy" --config="$run/kube-proxy.yaml"

export KUBECONFIG="$run/admin.kubeconfig"
kubectl() { "$tools/kubectl" "$@"; }
node_ready() {
	[[ "$(kubectl get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_for "node Ready" node_ready
# NetworkPolicy enforced (the bridge CNI enforces none): kube-router's
# firewall alone, as a node process, with iptables and ipsets. No listener
# (health and metrics off); routes, Services and the CNI stay as they are.
# It starts once the node is registered: it reads its address there.
start kube-router "$tools/kube-router" --kubeconfig="$run/admin.kubeconfig" --hostname-override="$NODE" \
	--run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
	--enable-ipv6=false --health-port=0 --metrics-port=0
wait_for "NetworkPolicy enforced" iptables -n -L KUBE-ROUTER-FORWARD
wait_for "default ServiceAccount" kubectl get serviceaccount default -n default
kubectl apply -f "$here/coredns.yaml" >/dev/null
wait_for "CoreDNS ready" kubectl -n kube-system rollout status deploy/coredns --timeout=2s
say "cluster up"
started=yes
echo "CLUSTER_READY $run/admin.kubeconfig"
