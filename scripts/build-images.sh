#!/usr/bin/env bash
# `make images`: the operator, sidecar and demo-app images, built without
# pulling anything. The release binaries are linked statically
# (-C target-feature=+crt-static on x86_64-unknown-linux-gnu) and put into
# archives that hold exactly what each images/<name>/Dockerfile's final
# stage copies (tests/src/bin/mkimage.rs reads those COPY lines), with its
# user, entrypoint, labels and ports. Writes
# $CARGO_TARGET_DIR/images/<name>.tar, an OCI image layout that also
# carries docker's manifest.json; load one with
# `ctr -n k8s.io images import <name>.tar`, `podman load -i <name>.tar`
# or `docker load -i <name>.tar`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo="${CARGO:-cargo}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
triple=x86_64-unknown-linux-gnu
out="$target_dir/images"
version="$(awk -F'"' '/^version *=/ { print $2; exit }' operator/Cargo.toml)"
mkdir -p "$out"

start=$SECONDS
echo "building static release binaries (the first build takes several minutes)..." >&2
"$cargo" build --release --locked --target "$triple" \
	-p portcullis-operator -p portcullis-sidecar -p portcullis-e2e \
	--bin portcullis-operator --bin portcullis-sidecar --bin echo-upstream \
	--config "target.$triple.rustflags=[\"-C\",\"target-feature=+crt-static\"]"
"$cargo" build -p portcullis-e2e --bin mkimage
echo "binaries ready in $((SECONDS - start)) s" >&2
bin="$target_dir/$triple/release"
mkimage="$target_dir/debug/mkimage"

for image in operator:portcullis-operator sidecar:portcullis-sidecar demo-app:echo-upstream; do
	name="${image%%:*}"
	binary="${image#*:}"
	repository="portcullis-$name"
	"$mkimage" --dockerfile "images/$name/Dockerfile" --tag "localhost/$repository:$version" \
		--out "$out/$name.tar" --file "/out/$binary=$bin/$binary"
done
echo "images in $out:" >&2
ls -l "$out"/*.tar >&2
