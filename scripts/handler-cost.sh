#!/usr/bin/env bash
# The CI gate on handler cost: instruction counts (callgrind, through gungraun) of each variant's leader and
# follower replaying a recorded run, against harness/benches/handler_ir_baseline.toml. A replay that executes
# more than 5% more instructions than its baseline fails the run (gungraun exits 3, cargo bench then 101), and
# so does a recorded run that completed too few commands (a variant that stopped working).
#
#   scripts/handler-cost.sh            check (what CI runs)
#   scripts/handler-cost.sh --update   rewrite the baseline from the current code: only in a commit that changes
#                                      handler cost on purpose, saying why
#
# Needs valgrind and gungraun-runner of the same version as the gungraun crate (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -nE 's/^gungraun = "=([0-9.]+)".*/\1/p' Cargo.toml)"
if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind is needed (apt-get install valgrind)" >&2
  exit 2
fi
if [ "$(gungraun-runner --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
  echo "== cargo install gungraun-runner $version"
  # A debug build: the runner only starts valgrind and reads its output files, and on a fresh CI machine an
  # optimised build of it costs minutes. The instruction counts are of the benches, built with optimisations.
  cargo install gungraun-runner --version "$version" --locked --quiet --debug
fi

if [ "${1:-}" = "--update" ]; then
  log="$(mktemp)"
  trap 'rm -f "$log" "$log.toml"' EXIT
  PAXOS_IR_UPDATE=1 cargo bench -q -p paxos-harness --bench handler_ir 2>&1 | tee "$log"
  {
    echo "# Instructions (callgrind Ir) per replay of each recorded trace; written by scripts/handler-cost.sh --update."
    echo "# The gate allows 5% above these."
    awk '/^handler_ir::/ { split($2, a, ":"); id = a[1] }
         /^  Instructions:/ { split($2, b, "|"); if (id != "") { printf "\"%s\" = %s\n", id, b[1]; id = "" } }' "$log"
  } > "$log.toml"
  entries="$(grep -c '^"' "$log.toml" || true)"
  if [ "$entries" -ne 14 ]; then
    echo "expected 14 instruction counts in the benchmark output, found $entries: baseline not changed" >&2
    exit 2
  fi
  mv "$log.toml" harness/benches/handler_ir_baseline.toml
  echo "harness/benches/handler_ir_baseline.toml rewritten; commit it with the change that moved it"
  exit 0
fi

cargo bench -q -p paxos-harness --bench handler_ir
