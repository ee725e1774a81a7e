#!/usr/bin/env bash
# Builds the pip-installable wheel: the `deployer` (static musl, via maturin and zig) with the layer
# zips of dist/ (`make layer`) embedded, so `pip install` needs no Rust toolchain.
#   scripts/build-wheel.sh [x86_64] [arm64]      (default: this machine's architecture)
# Output: dist/wheels/faultline-<version>-py3-none-manylinux_2_17_<arch>.manylinux2014_<arch>.musllinux_1_1_<arch>.whl
# (one static binary serves glibc and musl systems alike, so the wheel carries both tags).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${FAULTLINE_VENV:-$root/.venv}"
export PATH="$venv/bin:$PATH"
# shellcheck source=scripts/musl-target.sh
source "$root/scripts/musl-target.sh"
dist="$root/dist"
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=("$(uname -m)")

command -v maturin >/dev/null || { echo "maturin not found: run 'make venv'" >&2; exit 2; }
for arch in x86_64 arm64; do
  [ -f "$dist/faultline-layer-$arch.zip" ] || { echo "dist/faultline-layer-$arch.zip missing: run 'make layer'" >&2; exit 2; }
done

mkdir -p "$dist/wheels"
for arch in "${arches[@]}"; do
  musl_target "$arch"
  rm -f "$dist"/wheels/faultline-*_"${target%%-*}".whl
  # pyproject.toml (at the root) names the crate, the bindings and the build profile.
  (cd "$root" && FAULTLINE_EMBED_LAYERS="$dist" maturin build --locked --quiet --zig \
    --target "$target" --compatibility manylinux2014 musllinux_1_1 --out "$dist/wheels")
  ls -l "$dist"/wheels/faultline-*_"${target%%-*}".whl
done
