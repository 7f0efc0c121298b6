#!/usr/bin/env bash
# Measures the regression gate's error rates on this machine (docs/REGRESSION.md gives the figures).
#
#   scripts/gate-error-rates.sh [--null N] [--slow N] [--work US] [--tolerance PCT] [--config FILE]
#
# A null trial runs bench-configs/gate.toml twice as it is (five QUIC runs each) and asks `paxos-bench compare`
# whether the second regressed against the first: any "regressed" is a false alarm. A slow trial runs it once
# as it is and once with `[inject] work_us_per_msg = US` (real work per handled message): a catch is a
# "regressed" verdict. Trials are interleaved so that a drift of the machine hits both kinds alike. Prints one
# line per trial (the p50 ratio and the verdicts) and the counts; exits 0 (the figures are the output).
set -euo pipefail
cd "$(dirname "$0")/.."

null=20 slow=10 work=2 tolerance=10% config=bench-configs/gate.toml
while [ $# -gt 0 ]; do
  case "$1" in
    --null) null="$2"; shift 2 ;;
    --slow) slow="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --tolerance) tolerance="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

cargo build --release -q -p paxos-harness
bin="${CARGO_TARGET_DIR:-target}/release/paxos-bench"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$config" "$tmp/same.toml"
cp "$config" "$tmp/slow.toml"
printf '\n[inject]\nwork_us_per_msg = %s\n' "$work" >> "$tmp/slow.toml"

run() { "$bin" run "$1" --out "$2" --no-history-db > "$2.log" 2>&1 || { cat "$2.log"; exit 2; }; }

# The trial order: slow trials spread evenly among the null ones.
order=()
total=$((null + slow))
s=0
for ((i = 0; i < total; i++)); do
  if [ "$s" -lt "$slow" ] && [ $(( (i + 1) * slow / total )) -gt "$s" ]; then
    order+=(slow); s=$((s + 1))
  else
    order+=(null)
  fi
done

alarms=0 catches=0 n=0
for kind in "${order[@]}"; do
  n=$((n + 1))
  base="$tmp/t$n-base" cur="$tmp/t$n-cur"
  run "$config" "$base"
  if [ "$kind" = slow ]; then run "$tmp/slow.toml" "$cur"; else run "$tmp/same.toml" "$cur"; fi
  set +e
  "$bin" compare "$base" "$cur" --tolerance "$tolerance" --no-history-db > "$tmp/t$n.cmp" 2>&1
  code=$?
  set -e
  [ "$code" -le 1 ] || { cat "$tmp/t$n.cmp"; exit 2; }
  p50="$(grep -E '^[a-z]+ +p50_us' "$tmp/t$n.cmp" | head -1 | sed -E 's/.*\((ratio [^)]*)\).*/\1/')"
  [ -n "$p50" ] || p50="p50 same (see the gate's detail only on differences)"
  verdicts="$(grep -cE '^regressed' "$tmp/t$n.cmp" || true) regressed"
  if [ "$code" -eq 1 ]; then
    if [ "$kind" = slow ]; then catches=$((catches + 1)); else alarms=$((alarms + 1)); fi
  fi
  printf 'trial %2d %-4s flagged=%s  %s  p50: %s\n' "$n" "$kind" "$([ "$code" -eq 1 ] && echo yes || echo no)" "$verdicts" "$p50"
done
echo "slow trials (work_us_per_msg = $work): caught $catches of $slow"
echo "null trials: false alarms $alarms of $null"
echo "tolerance $tolerance, alpha 0.05 one-sided, five runs a side"
