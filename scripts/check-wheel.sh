#!/usr/bin/env bash
# Checks the wheels in dist/wheels: each one's deployer runs and names the embedded layers (an
# arm64 one under qemu, like the layer check), then the install test for this machine's wheel
# (fresh venv, no Rust on PATH, init + enable against moto with the embedded zips only).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cargo="${CARGO:-cargo}"
shopt -s nullglob
wheels=("$root"/dist/wheels/faultline-*.whl)
[ ${#wheels[@]} -gt 0 ] || { echo "no wheel in dist/wheels: run 'make wheel'" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for wheel in "${wheels[@]}"; do
  bin="$tmp/deployer"
  unzip -p "$wheel" '*.data/scripts/deployer' > "$bin"
  chmod +x "$bin"
  case "$wheel" in
    *_x86_64.whl) machine=x86_64 ;;
    *_aarch64.whl) machine=aarch64 ;;
    *) echo "unknown wheel architecture: $wheel" >&2; exit 1 ;;
  esac
  if [ "$machine" = "$(uname -m)" ]; then
    version="$("$bin" --version)"
  else
    qemu="$(command -v "qemu-$machine-static" || command -v "qemu-$machine")"
    version="$("$qemu" "$bin" --version)"
  fi
  echo "$(basename "$wheel"): $(stat -c %s "$wheel") bytes; $version"
  case "$version" in
    *"x86_64 sha256:"*"arm64 sha256:"*) ;;
    *) echo "the deployer in $(basename "$wheel") embeds no layer" >&2; exit 1 ;;
  esac
done

# --workspace, as `make unit-test` builds: a -p selection resolves other features and builds every
# dependency again.
"$cargo" test --locked --workspace --test wheel -- --ignored
