#!/usr/bin/env bash
# Runs the safety checker over many seeds for every variant: scripts/check-all.sh [SEEDS] [FIRST_SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -- check --variant all --seeds "${1:-5000}" --first-seed "${2:-1}" --faults all
