#!/usr/bin/env bash
# Runs every benchmark in one go and writes one report: target/bench-all.md, headed by the
# machine and the date, then the runtime proxy (free and pinned to one CPU), faults, TLS
# origination, cold start, config reads, instructions per invocation, deployer and deployer
# fleet reports of this run.
# Each figure is a ratio against a baseline measured in the same run (see BENCHMARKS.md).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo="${CARGO:-cargo}"

"$cargo" bench -p faultline-extension --bench runtime_proxy --locked
# The same with every process (client, upstream, floor relay, faultline) on one CPU, as a small
# Lambda function has at most one: no core to hide a relay's work on.
taskset -c 0 "$cargo" bench -p faultline-extension --bench runtime_proxy --locked -- --pinned
"$cargo" bench -p faultline-extension --bench faults --locked
"$cargo" bench -p faultline-extension --bench origination --locked
"$cargo" bench -p faultline-extension --bench cold_start --locked
"$cargo" bench -p faultline-extension --bench config_reads --locked
# Instructions per invocation under callgrind (when valgrind is installed): deterministic.
"$cargo" bench -p faultline-extension --bench instructions --locked
"$cargo" bench -p faultline-deployer --bench enable --locked
"$cargo" bench -p faultline-deployer --bench fleet --locked

out=target/bench-all.md
{
  echo "# faultline benchmarks, one run"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "- kernel: $(uname -r); $(rustc --version)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  for part in bench-report bench-report-pinned bench-faults bench-origination bench-cold-start bench-config-reads bench-instructions bench-deployer bench-fleet; do
    echo
    sed -e 's/^## /### /' -e 's/^# /## /' "target/$part.md"
  done
} > "$out"
echo "wrote $out"
