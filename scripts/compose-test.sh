#!/usr/bin/env bash
# The replicas as containers, tested for real (docs/DEPLOY.md). Builds the image without a registry
# (scripts/docker-image.sh), renders bench-configs/compose-failover.toml as a Docker Compose project (five
# replica containers on a private network, WAL on a volume each, two load-generator containers with half the
# clients each), then while the load runs: kills the leader's container (docker kill), cuts a follower off the
# network (docker network disconnect) and connects it again. Afterwards it merges the two shares and checks
# their history against the replicas' logs (no acknowledged write lost, linearizable), and requires the
# failover time in the results and the cut-off replica to have caught up. Every container, network and volume
# it made is removed, also when it fails.
#
#   scripts/compose-test.sh [--config FILE] [--keep DIR]
#
# Without a Docker engine it prints "SKIPPED compose test" and why, and exits 0; with
# PAXOS_BENCH_REQUIRE_DOCKER=1 (CI) it exits 1 instead.
set -euo pipefail
cd "$(dirname "$0")/.."

config="bench-configs/compose-failover.toml"
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

skip() {
  echo "SKIPPED compose test: $1"
  if [ "${PAXOS_BENCH_REQUIRE_DOCKER:-0}" = 1 ]; then
    echo "compose test: PAXOS_BENCH_REQUIRE_DOCKER=1, so a skip is a failure" >&2
    exit 1
  fi
  exit 0
}
command -v docker >/dev/null 2>&1 || skip "no docker command (Debian: apt-get install docker.io docker-compose)"
command -v docker-compose >/dev/null 2>&1 || skip "no docker-compose command (Debian: apt-get install docker-compose)"
docker info >/dev/null 2>&1 || skip "no Docker engine runs here (or this user may not use it)"

target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p paxos-harness --bin paxos-bench 2>&1 | tail -1
bin="$target/release/paxos-bench"
scripts/docker-image.sh --no-build --tag paxos-bench:compose-test

project="pxbench$$"
work="$(mktemp -d)"
compose() { docker-compose -p "$project" -f "$work/docker-compose.yml" "$@"; }
cleanup() {
  status=$?
  if [ $status -ne 0 ] && [ -f "$work/docker-compose.yml" ]; then
    echo "== compose test failed (exit $status); the containers' last lines:" >&2
    compose logs --no-color --tail 15 >&2 2>&1 || true
  fi
  if [ -f "$work/docker-compose.yml" ]; then
    compose --profile load --profile tools down -v --remove-orphans -t 2 >/dev/null 2>&1 || true
  fi
  # Whatever the project still holds (a container started by hand, a network left by a crash).
  docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker volume rm >/dev/null 2>&1 || true
  if [ -n "$keep" ] && [ -d "$work/results" ]; then
    mkdir -p "$keep" && cp -r "$work/results/." "$keep/" && echo "results kept in $keep"
  fi
  rm -rf "$work"
  left=$(docker ps -aq --filter "label=com.docker.compose.project=$project" | wc -l)
  echo "cleanup: project $project removed ($left containers left)"
  exit $status
}
trap cleanup EXIT

# A /24 no other Docker network uses.
used=$(docker network ls -q | xargs -r docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)
subnet=""
for n in $(seq 28 31); do
  for m in $(seq 0 9); do
    cand="172.$n.$((200 + m)).0/24"
    case " $used " in *" $cand "*) continue ;; esac
    subnet="$cand"; break 2
  done
done
[ -n "$subnet" ] || { echo "compose test: no free 172.28-31.200-209.0/24 subnet" >&2; exit 1; }
prefix="${subnet%.0/24}"

"$bin" deploy render "$config" --out "$work" --image paxos-bench:compose-test --load-generators 2 --subnet "$subnet"
# The containers run as the image's user (10001); as root, hand it the project's files; otherwise run the
# containers as this user, who owns them.
if [ "$(id -u)" -eq 0 ]; then
  chown -R 10001:10001 "$work/cluster" "$work/results"
else
  export PAXOS_USER="$(id -u):$(id -g)"
fi
replicas=$(grep -c '^\[\[replica\]\]' "$work/cluster/cluster.toml")

echo "== $replicas replica containers"
compose up -d --no-color 2>&1 | grep -v '^$' || true
deadline=$((SECONDS + 60))
for ((i = 0; i < replicas; i++)); do
  c=$(compose ps -q "replica-$i")
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ]; do
    if [ $SECONDS -ge $deadline ]; then echo "replica-$i is not healthy after 60 s" >&2; exit 1; fi
    sleep 0.5
  done
done
echo "all $replicas healthy"

status() { compose run --rm --no-deps status 2>/dev/null | grep -E '^[0-9]+ '; }
leader_of() { awk '$3 == "leader" {print $1; exit}'; }

echo "== load: 2 load-generator containers"
compose --profile load up -d --no-color loadgen-0 loadgen-1 2>&1 | grep -v '^$' || true
sleep 6
leader=$(status | leader_of)
[ -n "$leader" ] || { echo "no leader among the replicas" >&2; exit 1; }
echo "== docker kill replica-$leader (the leader) at $(date +%T.%N | cut -c1-12)"
docker kill "$(compose ps -q "replica-$leader")" >/dev/null
sleep 3
after=$(status)
new_leader=$(echo "$after" | leader_of)
cut=""
for ((i = 0; i < replicas; i++)); do
  if [ "$i" != "$leader" ] && [ "$i" != "$new_leader" ]; then cut=$i; break; fi
done
cut_c=$(compose ps -q "replica-$cut")
network="${project}_paxos"
echo "== new leader: replica ${new_leader:-none yet}; docker network disconnect replica-$cut for 5 s"
docker network disconnect "$network" "$cut_c"
sleep 5
docker network connect --ip "$prefix.$((10 + cut))" "$network" "$cut_c"
echo "== replica-$cut connected again"

for i in 0 1; do
  code=$(docker wait "$(compose ps -q "loadgen-$i")")
  if [ "$code" != 0 ]; then echo "loadgen-$i exited with $code" >&2; compose logs --no-color "loadgen-$i" >&2; exit 1; fi
done
echo "== both load generators finished"

echo "== merge the shares and check the history against the replicas' logs"
merged=$(compose run --rm --no-deps merge 2>&1) || { echo "$merged" >&2; exit 1; }
echo "$merged" | grep -E '^(merged history|mode|quic)' || true
echo "$merged" | grep -q "lost 0:" || { echo "$merged" >&2; echo "acknowledged writes were lost" >&2; exit 1; }
echo "$merged" | grep -q "linearizable" || { echo "$merged" >&2; exit 1; }

final=$(status)
echo "$final"
applied_cut=$(echo "$final" | awk -v r="$cut" '$1 == r {print $4}')
applied_max=$(echo "$final" | awk '$4 ~ /^[0-9]+$/ {if ($4 > m) m = $4} END {print m + 0}')
[ "$applied_cut" = "$applied_max" ] || { echo "replica-$cut applied $applied_cut slots, the others $applied_max: it did not catch up" >&2; exit 1; }
echo "replica-$cut, cut off for 5 s, caught up: $applied_cut slots applied, as the others"

csv="$work/results/merged/results.csv"
col() { awk -F, -v name="$1" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == name) c = i} NR == 2 && c {print $c}' "$csv"; }
failover=$(col failover_ms)
echo "merged results: $(col ops) ops, $(col throughput_ops_s) ops/s, p50 $(col p50_us) us, p99 $(col p99_us) us, failover ${failover:-none} ms"
[ -n "$failover" ] || { echo "no failover time in the results" >&2; exit 1; }
echo "compose test: PASSED ($replicas replica containers, leader replica-$leader killed, replica-$cut cut off and back)"
