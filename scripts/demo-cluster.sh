#!/usr/bin/env bash
# `make demo-cluster`: the whole product on a local single-node Kubernetes
# cluster. Starts the cluster (tests/tools/cluster/start-cluster.sh),
# imports the images `make images` built, installs the chart with
# `helm install --wait`, starts the test identity provider on the node's
# address (reachable from pods and from this machine), deploys the demo app
# labelled for injection with its OidcSettings in a namespace that enforces
# the `restricted` Pod Security level, and prints the URL and the users.
# Ctrl-C tears everything down (stop-cluster.sh). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

NODE_IP=10.250.0.1
NODE_PORT="${DEMO_NODE_PORT:-30080}"
IDP_PORT="${DEMO_IDP_PORT:-9000}"
PUBLIC_URL="http://127.0.0.1:$NODE_PORT"
NAMESPACE=demo
target_dir="${CARGO_TARGET_DIR:-$root/target}"
state="${PORTCULLIS_CLUSTER_DIR:-/var/lib/portcullis-cluster}"
tools="$(tests/tools/install-kube-tools.sh --node | tail -n1)"
helm="${PORTCULLIS_TOOLS_DIR:-$HOME/.cache/portcullis/tools}/helm-v3.22.0/helm"
export KUBECONFIG="$state/run/admin.kubeconfig"
export HELM_CACHE_HOME="$state/helm/cache" HELM_CONFIG_HOME="$state/helm/config" HELM_DATA_HOME="$state/helm/data"

t0=$SECONDS
step() { echo "==> [+$((SECONDS - t0))s] $*" >&2; }
kubectl() { "$tools/kubectl" "$@"; }

[[ -x "$helm" ]] || { echo "$helm is missing: run tests/tools/install-helm.sh" >&2; exit 1; }
for image in operator sidecar demo-app; do
	[[ -s "$target_dir/images/$image.tar" ]] || { echo "$target_dir/images/$image.tar is missing: run make images" >&2; exit 1; }
done
[[ -x "$target_dir/debug/mkimage" ]] || cargo build -p portcullis-e2e --bin mkimage

idp_pid=""
cleanup() {
	# A second Ctrl-C must not cut the teardown short.
	trap '' INT TERM
	trap - EXIT
	set +e
	echo >&2
	step "tearing down"
	[[ -n "$idp_pid" ]] && kill "$idp_pid" 2>/dev/null
	tests/tools/cluster/stop-cluster.sh "$state"
	step "done"
}
trap cleanup INT TERM EXIT

step "starting the cluster"
tests/tools/cluster/start-cluster.sh "$tools" "$target_dir/debug/mkimage" "$state" >/dev/null

step "importing the images"
for image in operator sidecar demo-app; do
	ctr --address "$state/run/containerd/containerd.sock" -n k8s.io images import "$target_dir/images/$image.tar" >/dev/null
done

step "helm install portcullis (waits for the operator)"
"$helm" install portcullis charts/portcullis --namespace portcullis --create-namespace \
	--wait --timeout 180s --set image.pullPolicy=Never --set sidecar.image.pullPolicy=Never >/dev/null

step "starting the test identity provider on http://$NODE_IP:$IDP_PORT"
clients="[{\"client_id\":\"portcullis\",\"client_secret\":\"portcullis-secret\",\"redirect_uris\":[\"$PUBLIC_URL/auth/oidc\"],\"post_logout_redirect_uris\":[\"$PUBLIC_URL/\",\"$PUBLIC_URL/login\"]}]"
IDP_HOST="$NODE_IP" IDP_PORT="$IDP_PORT" IDP_CLIENTS="$clients" \
	node tests/idp/idp.mjs >"$state/logs/idp.log" 2>&1 &
idp_pid=$!
for _ in $(seq 100); do
	grep -q IDP_READY "$state/logs/idp.log" && break
	kill -0 "$idp_pid" 2>/dev/null || { cat "$state/logs/idp.log" >&2; exit 1; }
	sleep 0.2
done

step "deploying the demo app (namespace $NAMESPACE, Pod Security: restricted)"
kubectl create namespace "$NAMESPACE" >/dev/null
kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted >/dev/null
sed -e "s|namespace: NAMESPACE|namespace: $NAMESPACE|" \
	-e "s|WELL_KNOWN_URL|http://$NODE_IP:$IDP_PORT/.well-known/openid-configuration|" \
	-e "s|PUBLIC_URL|$PUBLIC_URL|" -e "s|NODE_PORT|$NODE_PORT|" \
	tests/tools/cluster/demo-app.yaml | kubectl apply -f - >/dev/null
kubectl -n "$NAMESPACE" wait oidcsettings/demo --for=condition=Ready --timeout=60s >/dev/null
kubectl -n "$NAMESPACE" rollout status deployment/demo-app --timeout=120s >/dev/null

cat <<EOF

Portcullis is running on a local Kubernetes cluster (ready in $((SECONDS - t0)) s).

  Open            $PUBLIC_URL/
  Demo users      alice (admin), trudy (trusted), root (untrusted); password: <user>-pw
  Backup login    $PUBLIC_URL/login?backup=1  as admin, with the generated password:
                  $tools/kubectl -n $NAMESPACE get secret demo-root-admin -o jsonpath='{.data.password}' | base64 -d
  kubectl         export KUBECONFIG=$KUBECONFIG
                  $tools/kubectl get pods -A
                  $tools/kubectl -n $NAMESPACE get oidcsettings

Press Ctrl-C to stop and remove the cluster.
EOF
while kill -0 "$idp_pid" 2>/dev/null; do
	sleep 1
done
echo "the identity provider stopped; see $state/logs/idp.log" >&2
