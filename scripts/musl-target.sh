# shellcheck shell=bash
# Sourced by build-layer.sh and build-wheel.sh (one mapping of architecture names to targets).
#   musl_target ARCH   sets $arch (x86_64 or arm64) and $target (its static musl Rust target),
#                      adding the target with rustup when it is missing.
musl_target() {
  # shellcheck disable=SC2034  # $arch is read by the sourcing script
  case "$1" in
    x86_64 | amd64) arch=x86_64; target=x86_64-unknown-linux-musl ;;
    arm64 | aarch64) arch=arm64; target=aarch64-unknown-linux-musl ;;
    *) echo "unknown architecture '$1' (x86_64 or arm64)" >&2; exit 2 ;;
  esac
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
  fi
}
