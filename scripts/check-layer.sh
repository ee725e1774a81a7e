#!/usr/bin/env bash
# Checks the layer zips built by build-layer.sh: exact file list, 0755 modes, static binaries
# that run on their architecture (arm64 under qemu-user), and the size goal (<= 6 MB a zip).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dist="$root/dist"
max_zip_bytes=$((6 * 1000 * 1000))
status=0

for arch in x86_64 arm64; do
  zip_path="$dist/faultline-layer-$arch.zip"
  [ -f "$zip_path" ] || { echo "FAIL $arch: $zip_path missing (run make layer)"; status=1; continue; }
  listing="$(zipinfo "$zip_path")"
  files="$(zipinfo -1 "$zip_path" | sort | tr '\n' ' ')"
  if [ "$files" != "extensions/faultline faultline-node-proxy.cjs faultline-wrapper " ]; then
    echo "FAIL $arch: unexpected files: $files"; status=1
  fi
  for f in faultline-wrapper extensions/faultline; do
    grep -Eq "^-rwxr-xr-x .* $f\$" <<<"$listing" || { echo "FAIL $arch: $f is not 0755"; status=1; }
  done
  size=$(stat -c %s "$zip_path")
  if [ "$size" -gt "$max_zip_bytes" ]; then
    echo "FAIL $arch: zip is $size bytes, goal is <= $max_zip_bytes"; status=1
  fi

  tmp="$(mktemp -d)"
  unzip -q "$zip_path" -d "$tmp"
  case "$arch" in
    x86_64) runner=() ;;
    arm64)
      if command -v qemu-aarch64-static >/dev/null; then runner=(qemu-aarch64-static)
      else runner=(qemu-aarch64); fi ;;
  esac
  if ! version="$("${runner[@]}" "$tmp/extensions/faultline" --version)"; then
    echo "FAIL $arch: extension does not run"; status=1
  fi
  if ldd "$tmp/extensions/faultline" >/dev/null 2>&1 && [ "$arch" = x86_64 ]; then
    echo "FAIL $arch: extension is dynamically linked"; status=1
  fi
  sh -n "$tmp/faultline-wrapper" || { echo "FAIL $arch: wrapper is not valid sh"; status=1; }
  grep -Eq "^-rw-r--r-- .* faultline-node-proxy.cjs\$" <<<"$listing" ||
    { echo "FAIL $arch: faultline-node-proxy.cjs is not 0644"; status=1; }
  rm -rf "$tmp"
  echo "ok   $arch: $zip_path $size bytes ($version)"
done
exit $status
