#!/usr/bin/env bash
# The regression check: reruns bench-configs/quick.toml in simulation and compares it with the committed
# baseline in reports/baseline/. Simulation is deterministic, so every latency and message count must match
# exactly; any difference fails (exit 1).
#
#   scripts/regress.sh            compare (what CI runs)
#   scripts/regress.sh --markdown FILE
#                                 compare, and also write the comparison as a markdown table to FILE (the pull-
#                                 request comment of .github/workflows/bench.yml)
#   scripts/regress.sh --update   rewrite reports/baseline/ from the current code: do this only in a commit
#                                 that changes a protocol's behaviour on purpose, and say why in its message
set -euo pipefail
cd "$(dirname "$0")/.."

bench() { cargo run --release -q -p paxos-harness -- "$@"; }

if [ "${1:-}" = "--update" ]; then
  # Written beside the old baseline and swapped in only once the run succeeded.
  rm -rf reports/baseline.new
  bench run bench-configs/quick.toml --mode sim --out reports/baseline.new
  rm -rf reports/baseline
  mv reports/baseline.new reports/baseline
  echo "reports/baseline/ rewritten; commit it together with the change that moved it"
  exit 0
fi

current="$(mktemp -d)"
trap 'rm -rf "$current"' EXIT
bench run bench-configs/quick.toml --mode sim --out "$current/quick" > "$current/run.log" || {
  cat "$current/run.log"
  exit 2
}
if [ "${1:-}" = "--markdown" ]; then
  [ -n "${2:-}" ] || { echo "usage: scripts/regress.sh [--update | --markdown FILE]" >&2; exit 2; }
  bench compare reports/baseline "$current/quick" --markdown "$2"
else
  bench compare reports/baseline "$current/quick"
fi
