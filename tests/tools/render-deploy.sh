#!/usr/bin/env bash
# Prints deploy/portcullis.yaml: charts/portcullis rendered with its default
# values, release and namespace `portcullis`, CRD included.
#   tests/tools/render-deploy.sh <helm binary> > deploy/portcullis.yaml
# `make deploy-manifests` runs it with the Helm 3 of helm-versions;
# tests/tests/chart.rs fails while deploy/portcullis.yaml differs from what
# it prints, and checks that every Helm release renders the same objects.
set -euo pipefail

helm="${1:?usage: render-deploy.sh <helm binary>}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT

cat <<'HEADER'
# Generated from charts/portcullis by `make deploy-manifests`: do not edit;
# change the chart and run it again. What
#   helm install portcullis charts/portcullis --namespace portcullis
# installs with the default values. See deploy/README.md.
HEADER
HELM_CACHE_HOME="$home/cache" HELM_CONFIG_HOME="$home/config" HELM_DATA_HOME="$home/data" \
	"$helm" template portcullis "$root/charts/portcullis" \
	--namespace portcullis --include-crds
