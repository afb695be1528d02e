#!/usr/bin/env bash
# npm run bench: set-up, the dev cluster, then every benchmark under bench/ (or only the
# files given: npm run bench -- bench/peers.bench.ts). Benchmarks measure; tests assert.
# Stops the cluster again if it started it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ -z ${CRYOET_SUBREAPER:-} ]]; then exec python3 scripts/reaper.py run -- bash "$0" "$@"; fi
bash scripts/setup.sh
started=0
if ! bash scripts/dev-cluster.sh status >/dev/null 2>&1; then bash scripts/dev-cluster.sh start; started=1; fi
trap '[[ $started == 1 ]] && bash scripts/dev-cluster.sh stop' EXIT
benches=("$@")
((${#benches[@]})) || benches=(bench/*.bench.ts)
for bench in "${benches[@]}"; do
  echo "== $bench"
  node --import tsx "$bench"
done
