#!/usr/bin/env bash
# Builds the faultline Lambda layer zips: static musl binaries via cargo-zigbuild.
#   scripts/build-layer.sh [x86_64] [arm64]      (default: both)
# Output: dist/faultline-layer-<arch>.zip holding
#   faultline-wrapper        (0755)  AWS_LAMBDA_EXEC_WRAPPER=/opt/faultline-wrapper
#   faultline-node-proxy.cjs (0644)  the Node.js preload the wrapper adds for TLS origination
#   extensions/faultline     (0755)  the extension
# File times are fixed so that the same binaries give the same zip bytes.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${FAULTLINE_VENV:-$root/.venv}"
export PATH="$venv/bin:$PATH"
# shellcheck source=scripts/musl-target.sh
source "$root/scripts/musl-target.sh"
dist="$root/dist"
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 arm64)

command -v cargo-zigbuild >/dev/null || { echo "cargo-zigbuild not found: run 'make venv'" >&2; exit 2; }
command -v zip >/dev/null || { echo "zip not found: apt-get install zip" >&2; exit 2; }

mkdir -p "$dist"
# One cargo run for every architecture: their fat-LTO links (single-threaded each) then run side
# by side on two cores instead of one after the other.
targets=()
declare -A target_of
for name in "${arches[@]}"; do
  musl_target "$name"
  targets+=(--target "$target")
  target_of[$arch]="$target"
done
cargo zigbuild --release --locked -p faultline-extension --bin faultline "${targets[@]}"

for arch in "${!target_of[@]}"; do
  target="${target_of[$arch]}"
  stage="$dist/layer-$arch"
  rm -rf "$stage" && mkdir -p "$stage/extensions"
  install -m 0755 "$root/target/$target/release/faultline" "$stage/extensions/faultline"
  install -m 0755 "$root/extension/layer/faultline-wrapper" "$stage/faultline-wrapper"
  install -m 0644 "$root/extension/layer/faultline-node-proxy.cjs" "$stage/faultline-node-proxy.cjs"
  find "$stage" -exec touch -h -t 202001010000 {} +
  zip_path="$dist/faultline-layer-$arch.zip"
  rm -f "$zip_path"
  (cd "$stage" && zip -q -X -D "$zip_path" faultline-wrapper faultline-node-proxy.cjs extensions/faultline)
  printf '%-8s %s  zip %s bytes, extension %s bytes\n' "$arch" "$zip_path" \
    "$(stat -c %s "$zip_path")" "$(stat -c %s "$stage/extensions/faultline")"
done
