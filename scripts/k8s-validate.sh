#!/usr/bin/env bash
# Renders every Kubernetes overlay and validates each object against the Kubernetes API's JSON schemas, offline:
# the committed overlays (deploy/kubernetes/overlays/*) and the one `paxos-bench deploy render` makes from
# bench-configs/compose-failover.toml. Builds them with `kubectl kustomize`; validates them with the
# kubernetes-validate package from PyPI (schemas bundled, strict: unknown fields are errors), installed into a
# virtualenv under ~/.cache/paxos-bench. Prints, per overlay, its objects by kind and its schema errors.
#
#   scripts/k8s-validate.sh [--kubernetes-version 1.30.0]
#
# Without kubectl or Python's venv it prints "SKIPPED k8s validation" and why, and exits 0; with
# PAXOS_BENCH_REQUIRE_K8S=1 (CI) it exits 1 instead.
set -euo pipefail
cd "$(dirname "$0")/.."

version="1.30.0"
while [ $# -gt 0 ]; do
  case "$1" in
    --kubernetes-version) version="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

skip() {
  echo "SKIPPED k8s validation: $1"
  if [ "${PAXOS_BENCH_REQUIRE_K8S:-0}" = 1 ]; then
    echo "k8s validation: PAXOS_BENCH_REQUIRE_K8S=1, so a skip is a failure" >&2
    exit 1
  fi
  exit 0
}
command -v kubectl >/dev/null 2>&1 || skip "no kubectl to build the overlays with (Debian: apt-get install kubernetes-client)"
command -v python3 >/dev/null 2>&1 || skip "no python3 for the schema validator"

venv="${XDG_CACHE_HOME:-$HOME/.cache}/paxos-bench/k8s-validate-venv"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv" >/dev/null 2>&1 || skip "python3 cannot make a virtualenv (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q "kubernetes-validate>=1.30" || skip "pip could not install kubernetes-validate from PyPI"
fi

target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p paxos-harness --bin paxos-bench 2>&1 | tail -1
bin="$target/release/paxos-bench"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" deploy render bench-configs/compose-failover.toml --out "$work/rendered" >/dev/null

# First, that the validator can fail: an object with a field the API does not have must be refused.
cat >"$work/broken.yaml" <<'YAML'
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: broken
spec:
  serviceName: broken
  replicas: three
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: c
          image: paxos-bench:local
          livenessProbe: {httpGet: {path: /healthz, port: 8080}, everySeconds: 5}
YAML
if "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$work/broken.yaml" >/dev/null 2>&1; then
  echo "k8s validation: the validator accepted a StatefulSet with a string replica count and an unknown field" >&2
  exit 1
fi
echo "the validator refuses a broken StatefulSet (as it must)"

failed=0
total=0
for dir in deploy/kubernetes/overlays/* "$work/rendered/kubernetes"; do
  name="$dir"
  case "$dir" in "$work"*) name="deploy render bench-configs/compose-failover.toml" ;; esac
  out="$work/$(echo "$name" | tr '/ ' '__').yaml"
  if ! kubectl kustomize "$dir" >"$out" 2>"$out.err"; then
    cat "$out.err" >&2
    echo "$name: kubectl kustomize failed" >&2
    failed=1
    continue
  fi
  objects=$(grep -c '^kind: ' "$out" || true)
  kinds=$(grep '^kind: ' "$out" | sort | uniq -c | awk '{printf "%s%d %s", sep, $1, $3; sep=", "}')
  if "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$out" >"$out.log" 2>&1; then
    errors=0
  else
    errors=$(grep -c -i -E 'error|failed' "$out.log" || true)
    [ "$errors" -gt 0 ] || errors=1
    cat "$out.log" >&2
    failed=1
  fi
  total=$((total + objects))
  echo "$name: $objects objects ($kinds), $errors schema errors (Kubernetes $version, strict)"
done
if [ $failed -ne 0 ]; then
  echo "k8s validation: FAILED" >&2
  exit 1
fi
echo "k8s validation: PASSED ($total objects, 0 schema errors)"
