#!/usr/bin/env bash
# Soak: each variant runs for ten minutes as five `paxos-bench node` processes on loopback (QUIC, write-ahead
# logs, 1% message loss from bench-configs/soak.toml), driven by `paxos-bench run --cluster`, while this script
#   - kills the leader with SIGKILL and starts it again from its log,
#   - partitions the leader of that moment away from the other replicas and lets the partition heal
#     (Basic Paxos has no leader: both faults hit replica 0, the proposer the clients reach first),
#   - samples every replica process's resident memory (VmRSS) every few seconds.
# The run's checker verifies the history (agreement, validity, exactly-once, linearizability) and that every
# acknowledged command is in the final state of every live replica that runs the state machine.
#
#   scripts/soak.sh [--quick] [--variants multi,basic,...] [--out DIR]
#
#   --quick     30 s per variant, faults at 8 s and 16 s (what CI runs); memory is shown, not judged, since
#               30 s reaches no steady state
#   --variants  a comma list (default: every variant)
#   --out       where results go (default: reports/soak, or reports/soak-quick with --quick): per variant the
#               run's results directory, the nodes' logs and rss.csv; soak.md holds the summary table
#
# A variant passes when both faults happened (every replica took the partition order), its run exits 0 (the
# history checks; lost commands fail the check) with all five replicas alive at the end and, in the full mode,
# every replica process's memory at its end is within 20% of its memory two minutes after it started (for the
# restarted replica, two minutes after its restart). Exit 1 if any fails.
# Everything the script starts is stopped when it exits, including on Ctrl-C.
set -euo pipefail

die() { echo "soak.sh: $*" >&2; exit 2; }

QUICK=0
VARIANTS="multi,basic,flexible,fast,cheap,raft"
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --variants) VARIANTS="${2:?--variants needs a list}"; shift 2 ;;
        --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONFIG="$ROOT/bench-configs/soak.toml"
[ -f "$CONFIG" ] || die "$CONFIG is missing"
BIN="${PAXOS_BENCH:-}"
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --locked -q -p paxos-harness)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/paxos-bench"
fi
[ -x "$BIN" ] || die "$BIN is not an executable paxos-bench"

if [ "$QUICK" = 1 ]; then
    DURATION=30; KILL_AT=8; RESTART_AFTER=3; PART_AT=16; PART_FOR=5; MEM_AT=6; SAMPLE=2
    OUT="${OUT:-$ROOT/reports/soak-quick}"
else
    DURATION=600; KILL_AT=150; RESTART_AFTER=15; PART_AT=300; PART_FOR=30; MEM_AT=120; SAMPLE=10
    OUT="${OUT:-$ROOT/reports/soak}"
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
N=5

PIDS=()
RUN_PID=""
cleanup() {
    for p in "${PIDS[@]}" $RUN_PID; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

start_node() { # $1 = replica id
    "$BIN" node --cluster "$W/cluster.toml" --id "$1" >>"$W/node-$1.log" 2>&1 &
    PIDS[$1]=$!
}

# The replica the faults aim at: the one that says it leads; Basic Paxos has no leader, so there it is replica 0,
# the proposer the clients reach first (all replicas are equally near and ties go to the lowest id).
target() {
    if [ "$V" = basic ]; then echo 0; return; fi
    { "$BIN" status --cluster "$W/cluster.toml" --client 15 2>/dev/null || true; } |
        awk '$3 == "leader" && !found {print $1; found = 1}'
}

wait_for_target() { # up to $1 seconds; prints the target's id once every replica answers
    local l="" t=0 up=0
    while [ "$t" -lt "$1" ]; do
        up="$({ "$BIN" status --cluster "$W/cluster.toml" --client 15 2>/dev/null || true; } |
            awk 'NR > 1 && $3 != "unreachable"' | wc -l)"
        l="$(target)"
        if [ "$up" = "$N" ] && [ -n "$l" ]; then echo "$l"; return; fi
        sleep 1; t=$((t + 1))
    done
}

SUMMARY="$OUT/soak.md"
{
    echo "| variant | faults | ops acknowledged | writes | lost | linearizable | RSS MB at ${MEM_AT} s (max replica) | RSS MB at end | end / ${MEM_AT} s (worst process) | verdict |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} >"$SUMMARY"
FAILED=0

IFS=',' read -r -a LIST <<<"$VARIANTS"
for V in "${LIST[@]}"; do
    W="$OUT/$V"
    rm -rf "$W"
    mkdir -p "$W"
    grep -q "^name = \"$V\"" "$CONFIG" || die "$V is not a [[variant]] of $CONFIG"
    "$BIN" keys --replicas "$N" --clients 16 --out "$W/keys" >/dev/null
    sed -e "s/^duration_s = .*/duration_s = $DURATION/" "$CONFIG" >"$W/exp.toml"
    # Below Linux's ephemeral range (32768 and up), so the load generator's own sockets cannot take them.
    BASE=$((12000 + RANDOM % 18000))
    {
        echo "experiment = \"exp.toml\""
        echo "variant = \"$V\""
        echo "ca = \"keys/ca.crt\""
        echo "client_keys = \"keys\""
        for i in $(seq 0 $((N - 1))); do
            echo "[[replica]]"
            echo "id = $i"
            echo "addr = \"127.0.0.1:$((BASE + i))\""
            echo "cert = \"keys/replica-$i.crt\""
            echo "key = \"keys/replica-$i.key\""
        done
    } >"$W/cluster.toml"

    PIDS=()
    for i in $(seq 0 $((N - 1))); do start_node "$i"; done
    [ -n "$(wait_for_target 30)" ] ||
        die "$V: not every replica answered, or no leader, 30 s after the nodes started (see $W/node-*.log)"

    echo "soak: $V for $DURATION s (kill the leader at $KILL_AT s, partition the leader at $PART_AT s for $PART_FOR s)"
    "$BIN" run "$W/exp.toml" --cluster "$W/cluster.toml" --out "$W/run" >"$W/run.log" 2>&1 &
    RUN_PID=$!
    T0=$(date +%s)
    echo "t_s,replica,pid,rss_kb" >"$W/rss.csv"
    KILLED="" RESTARTED=0 PARTED=0 NEXT_SAMPLE=0 FAULTS=""
    while kill -0 "$RUN_PID" 2>/dev/null; do
        T=$(( $(date +%s) - T0 ))
        if [ "$T" -ge "$NEXT_SAMPLE" ] && [ "$T" -le "$DURATION" ]; then
            for i in $(seq 0 $((N - 1))); do
                echo "$T,$i,${PIDS[$i]},$(rss_kb "${PIDS[$i]}")" >>"$W/rss.csv"
            done
            NEXT_SAMPLE=$((NEXT_SAMPLE + SAMPLE))
        fi
        if [ -z "$KILLED" ] && [ "$T" -ge "$KILL_AT" ]; then
            KILLED="$(target)"
            if [ -n "$KILLED" ]; then
                if kill -9 "${PIDS[$KILLED]}" 2>/dev/null; then
                    FAULTS="kill $KILLED at ${T}s"
                else
                    FAULTS="replica $KILLED was already dead at ${T}s"
                fi
                wait "${PIDS[$KILLED]}" 2>/dev/null || true
                echo "  t=${T}s killed leader $KILLED (SIGKILL)" | tee -a "$W/faults.log"
                KILL_T=$T
            fi
        fi
        if [ -n "$KILLED" ] && [ "$RESTARTED" = 0 ] && [ "$T" -ge $((KILL_T + RESTART_AFTER)) ]; then
            start_node "$KILLED"
            RESTARTED=1
            FAULTS="$FAULTS, restart ${T}s"
            echo "  t=${T}s started replica $KILLED again from its log" | tee -a "$W/faults.log"
        fi
        if [ "$PARTED" = 0 ] && [ "$T" -ge "$PART_AT" ]; then
            L="$(target)"
            if [ -n "$L" ]; then
                OTHERS="$(seq 0 $((N - 1)) | grep -vx "$L" | paste -sd, -)"
                if "$BIN" partition --cluster "$W/cluster.toml" --client 14 --group "$L" --group "$OTHERS" \
                    --seconds "$PART_FOR" >>"$W/faults.log" 2>&1; then
                    PARTED=1
                    FAULTS="$FAULTS, cut $L off at ${T}s for ${PART_FOR}s"
                    echo "  t=${T}s partitioned leader $L from $OTHERS for ${PART_FOR}s" | tee -a "$W/faults.log"
                else
                    PARTED=2
                    FAULTS="$FAULTS, partition NOT taken by every replica"
                    echo "  t=${T}s the partition order was not taken by every replica" | tee -a "$W/faults.log"
                fi
            fi
        fi
        sleep 1
    done
    set +e
    wait "$RUN_PID"
    RC=$?
    set -e
    RUN_PID=""
    # Every replica must still be running: one that died is a failure, not a smaller check.
    DEAD=""
    for i in $(seq 0 $((N - 1))); do
        kill -0 "${PIDS[$i]}" 2>/dev/null || DEAD="$DEAD $i"
    done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true

    NOTE="$(grep -o 'acknowledged [0-9]* commands ([0-9]* writes), lost [0-9]*' "$W/run.log" | tail -1 || true)"
    ACKED="$(echo "$NOTE" | awk '{print $2}')"
    WRITES="$(echo "$NOTE" | sed -E 's/.*\(([0-9]+) writes\).*/\1/')"
    LOST="$(echo "$NOTE" | awk '{print $NF}')"
    if [ "$RC" = 0 ] && [ -n "$NOTE" ]; then LIN=yes; else LIN=no; ACKED="${ACKED:--}"; WRITES="${WRITES:--}"; LOST="${LOST:--}"; fi
    # Memory, per process (a restarted replica is a new one): its last sample against its sample MEM_AT
    # seconds after its first. The columns show the largest replica at MEM_AT and at the end.
    read -r MEM_EARLY MEM_END WORST < <(awk -F, -v at="$MEM_AT" '
        NR > 1 && $4 > 0 {
            p = $3
            if (!(p in t0)) { t0[p] = $1; early[p] = $4 }
            if ($1 - t0[p] <= at) early[p] = $4
            last[p] = $4
        }
        END {
            me = 0; ml = 0; w = 0
            for (p in early) {
                if (early[p] > me) me = early[p]
                if (last[p] > ml) ml = last[p]
                if (last[p] / early[p] > w) w = last[p] / early[p]
            }
            printf "%.1f %.1f %.3f\n", me / 1024, ml / 1024, w
        }' "$W/rss.csv")
    VERDICT=pass
    [ "$LIN" = yes ] && [ "$LOST" = 0 ] || VERDICT=FAIL
    [ "$RESTARTED" = 1 ] && [ "$PARTED" = 1 ] || { VERDICT=FAIL; FAULTS="${FAULTS:-no fault} (a fault did not happen)"; }
    if [ -n "$DEAD" ] || grep -q "unreachable at the end" "$W/run.log"; then
        VERDICT=FAIL; FAULTS="$FAULTS; replica(s)${DEAD:- ?} not alive at the end"
    fi
    if [ "$QUICK" = 0 ] && awk -v w="$WORST" 'BEGIN { exit !(w > 1.2) }'; then VERDICT=FAIL; fi
    [ "$VERDICT" = pass ] || FAILED=1
    echo "| $V | $FAULTS | $ACKED | $WRITES | $LOST | $LIN | $MEM_EARLY | $MEM_END | $WORST | $VERDICT |" >>"$SUMMARY"
    if [ "$RC" != 0 ]; then
        echo "  $V: the run failed (exit $RC):" >&2
        tail -5 "$W/run.log" >&2
    fi
done

echo
cat "$SUMMARY"
[ "$QUICK" = 0 ] || echo "(quick mode: memory shown, not judged)"
exit "$FAILED"
