# `make demo` runs the login path locally; `make test` installs what the tests
# need on a fresh machine and runs them all.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
IDP_DEPS := tests/idp/node_modules/.package-lock.json
FUZZ_TARGETS := session_cookie config_file claims_identity return_path request_headers gate_path bearer_token forward_question envoy_check
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGET_DIR ?= $(CURDIR)/fuzz/target

.PHONY: help demo test test-unit lint deny build toolchain deps bench bench-proxy bench-profile bench-operator kube-tools browser-deps \
	verifier-deps store-deps proxy-deps provider-tools helm-tools fuzz fuzz-smoke fuzz-tools cluster-deps images demo-cluster
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

help:
	@echo "make demo   run the identity provider, an app and the sidecar on 127.0.0.1"
	@echo "make demo-cluster  the whole product on a local single-node Kubernetes cluster"
	@echo "            (helm install, an injected demo app, the test provider); Ctrl-C tears it down"
	@echo "make images build the operator, sidecar and demo-app image archives without a registry"
	@echo "make deploy-manifests  render deploy/portcullis.yaml from the Helm chart"
	@echo "make test   install test dependencies and run every check and test"
	@echo "make test-unit  only the unit and in-process handler tests (seconds after a build)"
	@echo "make bench  benchmark the sidecar against oauth2-proxy and no proxy, and the operator"
	@echo "            with 1,000 OidcSettings (not part of make test; bench-proxy, bench-operator)"
	@echo "make bench-profile  instructions per proxied request and per forward-auth answer (callgrind), regression numbers"
	@echo "make fuzz   run each fuzz target for FUZZ_SECONDS (default 600); make test runs each briefly"

# rust-toolchain.toml pins the version and its rustfmt and clippy; rustup
# installs them on first use.
toolchain:
	rustup show active-toolchain >/dev/null

# cargo-deny, built once into cargo's bin folder and reused afterwards.
CARGO_DENY := $(or $(shell command -v cargo-deny 2>/dev/null),$(HOME)/.cargo/bin/cargo-deny)
$(CARGO_DENY):
	$(CARGO) install --locked cargo-deny

$(IDP_DEPS): tests/idp/package.json tests/idp/package-lock.json
	npm ci --prefix tests/idp --no-audit --no-fund
	@touch $@

# A real kube-apiserver and etcd, and what a single-node cluster adds
# (kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl,
# CoreDNS, crictl), built from Go modules once per version and cached
# outside the clone (~15 minutes the first time on 2 cores).
kube-tools:
	tests/tools/install-kube-tools.sh --node

# Debian packages the local cluster runs on: containerd, runc, the CNI
# plugins, iptables, ipset (kube-router's NetworkPolicy firewall), conntrack,
# and gcc for the static pause binary.
cluster-deps:
	@command -v containerd >/dev/null && command -v runc >/dev/null && command -v iptables >/dev/null && \
	  command -v ipset >/dev/null && \
	  command -v conntrack >/dev/null && command -v gcc >/dev/null && test -x /usr/lib/cni/bridge || { \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    containerd runc containernetworking-plugins iptables ipset conntrack gcc libc6-dev; }

# The operator, sidecar and demo-app images as archives in
# $(CARGO_TARGET_DIR)/images, from static release binaries, pulling nothing.
images:
	CARGO="$(CARGO)" scripts/build-images.sh

# Real identity providers, cached outside the clone by version: Dex built from
# its Go module (~2 CPU-minutes), Keycloak's server zip fetched with Maven.
provider-tools:
	tests/tools/install-dex.sh
	tests/tools/install-keycloak.sh

# Helm 3 and Helm 4 (versions in tests/tools/helm-versions) for the chart
# tests, built with `go install` and cached outside the clone by version.
helm-tools:
	tests/tools/install-helm.sh

# deploy/portcullis.yaml, the chart rendered with its default values for
# those who apply plain manifests, generated with the Helm 3 of
# tests/tools/helm-versions; tests/tests/chart.rs fails while it differs.
.PHONY: deploy-manifests
deploy-manifests:
	tests/tools/render-deploy.sh "$$(tests/tools/install-helm.sh v3)/helm" >deploy/portcullis.yaml.new
	mv deploy/portcullis.yaml.new deploy/portcullis.yaml

# Debian's Chromium and ChromeDriver for the real-browser tests.
browser-deps:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || { \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

# Debian's PyJWT, with which a test runs the README's verification snippet.
verifier-deps:
	@/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null || { \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-jwt python3-cryptography; }

# Debian's Redis and Sentinel, which the session store's tests start on 127.0.0.1.
store-deps:
	@test -x /usr/bin/redis-server && test -x /usr/bin/redis-sentinel && test -x /usr/bin/redis-cli || { \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-sentinel redis-tools; }

# Debian's nginx-light (with auth_request), which the forward-auth tests put
# in front of the app as ingress-nginx does.
proxy-deps:
	@bash bench/install-nginx.sh >/dev/null

deps: toolchain $(IDP_DEPS) kube-tools helm-tools cluster-deps browser-deps provider-tools verifier-deps store-deps proxy-deps

build:
	$(CARGO) build --workspace --all-targets

lint: toolchain
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

demo: $(IDP_DEPS)
	$(CARGO) build --workspace --bins
	scripts/demo.sh

# Needs root (containerd, the kubelet, bridges, iptables), like the cluster tests.
demo-cluster: $(IDP_DEPS) kube-tools helm-tools cluster-deps images
	scripts/demo-cluster.sh

# Licenses, banned sources and duplicate versions (warnings) from deny.toml.
# The advisories check needs the advisory database fetched over the network,
# which these machines cannot reach, so it is not run here; run
# `cargo deny check advisories` where the database can be fetched.
deny: $(CARGO_DENY)
	$(CARGO_DENY) check licenses bans sources

# No processes, no network: pure logic and handlers driven in-process.
test-unit:
	$(CARGO) test --workspace --lib --bins
	$(CARGO) test -p portcullis-sidecar --test handlers

test: deps lint deny build images fuzz-smoke
	$(CARGO) test --workspace
	npm test --prefix tests/idp

# libFuzzer needs the nightly toolchain and cargo-fuzz; both are installed
# when missing (cargo-fuzz once into ~/.cargo/bin).
fuzz-tools:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

# Each target starts from the committed seeds in fuzz/corpus/<target> and
# keeps what it finds in fuzz/work/<target> (not committed); a crash stops
# the run and leaves its input in fuzz/artifacts/<target>.
fuzz: fuzz-tools
	@cd fuzz && for target in $(FUZZ_TARGETS); do \
	  mkdir -p work/$$target && \
	  echo "fuzz $$target for $(FUZZ_SECONDS) s" && \
	  $(CARGO) +nightly fuzz run --target-dir $(FUZZ_TARGET_DIR) $$target work/$$target corpus/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

# Part of `make test`: every target briefly, so a target that no longer
# builds or an invariant the seeds already break is caught.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# Not part of `make test`; loopback only, every run bounded in time.
bench: bench-proxy bench-operator

# A release build, then oauth2-proxy and wrk are installed when missing; about
# three minutes.
bench-proxy: $(IDP_DEPS) store-deps
	$(CARGO) build --release --workspace --bins
	BENCH_BIN_DIR=$${CARGO_TARGET_DIR:-target}/release bench/run.py

# Instructions per proxied request, counted by callgrind on the release
# sidecar: unlike requests/s, independent of how busy the machine is. About a
# minute after the build.
bench-profile: $(IDP_DEPS)
	@command -v valgrind >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind; }
	$(CARGO) build --release --workspace --bins
	BENCH_BIN_DIR=$${CARGO_TARGET_DIR:-target}/release bench/profile.py

# The release operator against the real API server with 1,000 OidcSettings;
# about two minutes.
bench-operator: $(IDP_DEPS) kube-tools
	$(CARGO) build --release -p portcullis-operator
	OPBENCH_BIN_DIR=$${CARGO_TARGET_DIR:-target}/release bench/operator/run.py
