#!/usr/bin/env bash
# Kernel-path WAN emulation: runs an experiment's replicas as `paxos-bench node` processes, each in its own Linux
# network namespace, and the load generator in one more, with the config's [network] delays, jitter and loss
# applied to the packets in the kernel's path rather than injected by the senders.
#
#   scripts/netns-cluster.sh CONFIG [--out DIR] [--quick] [--compare]
#
#   --out DIR    results go to DIR/kernel-<variant>/ (default: reports/<config name>-netns)
#   --quick      at most 4 s per run, 1 client, 1 seed (what CI runs)
#   --compare    also run the same config in-process over QUIC (--mode quic) and in the simulator, and print
#                the three p50s side by side
#   --max-diff P with --compare: exit 1 if a kernel-path p50 differs from either other by more than P percent
#
# Layout: a hub namespace routes between one namespace per replica and one for the clients (a veth pair each,
# 10.77.<k>.0/24). Every packet from endpoint a to endpoint b crosses the hub's FORWARD chain, where an iptables
# NFQUEUE rule hands it to `paxos-bench nfq-delay`, which holds it for the (a, b) link's delay and jitter and
# drops it with the link's loss, from the same [network] section the simulator reads. This is the fallback for
# kernels without the netem qdisc (these machines: CONFIG_NET_SCH_NETEM is not set). The nodes and the load
# generator run with --kernel-path, so nothing is injected twice.
#
# Needs root, iproute2 and iptables (`apt-get install iproute2 iptables`). Everything it makes (namespaces,
# veths, rules, processes, key files) is removed when it exits, including on Ctrl-C. Traffic stays inside the
# namespaces it creates.
set -euo pipefail

die() { echo "netns-cluster.sh: $*" >&2; exit 2; }

CONFIG=""
OUT=""
QUICK=0
COMPARE=0
MAX_DIFF=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --compare) COMPARE=1; shift ;;
        --max-diff) MAX_DIFF="${2:?--max-diff needs a percentage}"; shift 2 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$CONFIG" ] || die "one CONFIG only"; CONFIG="$1"; shift ;;
    esac
done
[ -n "$CONFIG" ] || die "usage: scripts/netns-cluster.sh CONFIG [--out DIR] [--quick] [--compare] [--max-diff P]"
[ -z "$MAX_DIFF" ] || [ "$COMPARE" = 1 ] || die "--max-diff needs --compare"
[ -f "$CONFIG" ] || die "$CONFIG: no such file"
[ "$(id -u)" = 0 ] || die "needs root (it makes network namespaces and iptables rules); run it with sudo"
for tool in ip iptables; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install iproute2 iptables)"
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${PAXOS_BENCH:-}"
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --locked -q -p paxos-harness)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/paxos-bench"
fi
[ -x "$BIN" ] || die "$BIN is not an executable paxos-bench"

WORK="$(mktemp -d /tmp/netns-cluster.XXXXXX)"
TAG="pxb$$"
NAMESPACES=()
PIDS=()
cleanup() {
    # A second Ctrl-C must not cut the cleanup short.
    trap '' INT TERM
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for _ in $(seq 1 50); do
        alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The experiment, shortened for --quick.
EXP="$WORK/experiment.toml"
if [ "$QUICK" = 1 ]; then
    "$BIN" nfq-delay "$CONFIG" --shorten "$EXP"
else
    cp "$CONFIG" "$EXP"
fi
PLAN="$("$BIN" nfq-delay "$EXP" --plan)" || die "the kernel path cannot run $CONFIG (see above)"
ENDS=$(awk '$1 == "endpoints" { print $2 }' <<<"$PLAN")
REPLICAS=$((ENDS - 1))
CLIENTS=$(awk '$1 == "clients" { print $2 }' <<<"$PLAN")
NAME=$(awk -F'"' '/^name *=/ { print $2; exit }' "$EXP")
OUT="${OUT:-reports/$NAME-netns}"
mkdir -p "$OUT"
BASE=1000

hub="${TAG}h"
ip netns add "$hub"; NAMESPACES+=("$hub")
ip -n "$hub" link set lo up
ip netns exec "$hub" sysctl -qw net.ipv4.ip_forward=1
# Endpoint k: replicas 0..n-1, then the clients. Addresses 10.77.k.2 (inside) and 10.77.k.1 (hub side).
ns_of() { if [ "$1" -lt "$REPLICAS" ]; then echo "${TAG}r$1"; else echo "${TAG}c"; fi; }
for k in $(seq 0 $((ENDS - 1))); do
    ns="$(ns_of "$k")"
    ip netns add "$ns"; NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
    ip link add "${TAG}e$k" netns "$ns" type veth peer name "${TAG}h$k" netns "$hub"
    ip -n "$ns" addr add "10.77.$k.2/24" dev "${TAG}e$k"
    ip -n "$ns" link set "${TAG}e$k" up
    ip -n "$ns" route add default via "10.77.$k.1"
    ip -n "$hub" addr add "10.77.$k.1/24" dev "${TAG}h$k"
    ip -n "$hub" link set "${TAG}h$k" up
done
for a in $(seq 0 $((ENDS - 1))); do
    for b in $(seq 0 $((ENDS - 1))); do
        [ "$a" = "$b" ] && continue
        ip netns exec "$hub" iptables -A FORWARD -s "10.77.$a.2" -d "10.77.$b.2" \
            -j NFQUEUE --queue-num $((BASE + a * ENDS + b))
    done
done
ip netns exec "$hub" "$BIN" nfq-delay "$EXP" --queue-base "$BASE" --max-seconds 7200 \
    >"$WORK/delay.out" 2>"$WORK/delay.err" &
DELAY_PID=$!
PIDS+=("$DELAY_PID")
sleep 0.5
kill -0 "$DELAY_PID" 2>/dev/null || die "the delayer did not start: $(cat "$WORK/delay.err")"

"$BIN" keys --out "$WORK/keys" --replicas "$REPLICAS" --clients "$CLIENTS" >/dev/null
clients_ns="$(ns_of "$REPLICAS")"
status=0
while read -r _ label nv; do
    cluster="$WORK/cluster-$label.toml"
    {
        echo "experiment = \"experiment.toml\""
        echo "variant = \"$label\""
        echo "ca = \"keys/ca.crt\""
        echo "client_keys = \"keys\""
        for r in $(seq 0 $((REPLICAS - 1))); do
            printf '[[replica]]\nid = %d\naddr = "10.77.%d.2:7100"\ncert = "keys/replica-%d.crt"\nkey = "keys/replica-%d.key"\nwal = "wal-%s/replica-%d.wal"\n' \
                "$r" "$r" "$r" "$r" "$label" "$r"
        done
    } >"$cluster"
    NODES=()
    for r in $(seq 0 $((REPLICAS - 1))); do
        ip netns exec "$(ns_of "$r")" "$BIN" node --cluster "$cluster" --id "$r" --kernel-path \
            2>"$WORK/node-$label-$r.err" &
        NODES+=($!)
        PIDS+=($!)
    done
    for r in $(seq 0 $((REPLICAS - 1))); do
        for _ in $(seq 1 100); do
            grep -q "listening" "$WORK/node-$label-$r.err" 2>/dev/null && break
            sleep 0.1
        done
        grep -q "listening" "$WORK/node-$label-$r.err" || die "replica $r of $label did not start: $(cat "$WORK/node-$label-$r.err")"
    done
    echo "== $label: $REPLICAS replica namespaces, clients in $clients_ns, delays in the kernel path"
    # In the background, so that Ctrl-C reaches the trap at once.
    ip netns exec "$clients_ns" "$BIN" run "$EXP" --cluster "$cluster" --kernel-path \
        --out "$OUT/kernel-$label" &
    RUN_PID=$!
    PIDS+=("$RUN_PID")
    wait "$RUN_PID" || status=1
    for p in "${NODES[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${NODES[@]}"; do wait "$p" 2>/dev/null || true; done
done < <(awk '$1 == "variant"' <<<"$PLAN")

kill -0 "$DELAY_PID" 2>/dev/null || die "the delayer died during the runs: $(cat "$WORK/delay.err")"
# Packets the kernel dropped because the delayer's queues were full would be loss the config never asked for.
lost=$(ip netns exec "$hub" awk '{ q += $6; u += $7 } END { print q + u + 0 }' /proc/net/netfilter/nfnetlink_queue)
[ "$lost" = 0 ] || die "the kernel dropped $lost packets at full NFQUEUE queues: the figures would include unasked-for loss"
kill "$DELAY_PID"; wait "$DELAY_PID" || true
cat "$WORK/delay.out"
[ "$status" = 0 ] || die "a kernel-path run failed (see above)"

if [ "$COMPARE" = 1 ]; then
    "$BIN" run "$EXP" --mode quic --out "$OUT/inprocess" >/dev/null
    "$BIN" run "$EXP" --mode sim --out "$OUT/sim" >/dev/null
    # p50 per (variant, clients, seed), side by side.
    p50s() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { print $col["variant"] "," $col["clients"] "," $col["seed"], $col["p50_us"] }' "$@"; }
    kernel="$(while read -r _ label _; do p50s "$OUT/kernel-$label/results.csv"; done < <(awk '$1 == "variant"' <<<"$PLAN"))"
    echo "variant,clients,seed   kernel p50 ms  in-process p50 ms  sim p50 ms  kernel/in-process  kernel/sim"
    worst=0
    while read -r key k; do
        i=$(p50s "$OUT/inprocess/results.csv" | awk -v k="$key" '$1 == k { print $2 }')
        s=$(p50s "$OUT/sim/results.csv" | awk -v k="$key" '$1 == k { print $2 }')
        [ -n "$i" ] && [ -n "$s" ] && [ -n "$k" ] || die "no p50 for $key in every mode"
        awk -v key="$key" -v k="$k" -v i="$i" -v s="$s" 'BEGIN {
            printf "%-22s %13.2f %18.2f %11.2f %18.3f %11.3f\n", key, k / 1000, i / 1000, s / 1000, k / i, k / s }'
        worst=$(awk -v k="$k" -v i="$i" -v s="$s" -v w="$worst" 'BEGIN {
            a = (k > i ? k / i : i / k) - 1; b = (k > s ? k / s : s / k) - 1
            m = (a > b ? a : b) * 100; print (m > w ? m : w) }')
    done <<<"$kernel"
    echo "largest difference: ${worst}%"
    if [ -n "$MAX_DIFF" ] && awk -v w="$worst" -v m="$MAX_DIFF" 'BEGIN { exit !(w > m) }'; then
        echo "netns-cluster.sh: a kernel-path p50 differs by more than $MAX_DIFF%" >&2
        exit 1
    fi
fi
echo "results: $OUT"
