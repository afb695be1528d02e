#!/usr/bin/env bash
# npm test: set-up (idempotent), typecheck, style check (Prettier, no line over 120), then
# every suite — unit, integration (real sshd + single-host Slurm) and workflow (real Temporal
# dev server). Starts the dev cluster if it is not running and stops it again afterwards,
# checking that no daemon is left behind.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Our sandboxes' PID 1 does not reap orphans: run under a subreaper so nothing we start
# lingers as a zombie.
if [[ -z ${CRYOET_SUBREAPER:-} ]]; then exec python3 scripts/reaper.py run -- bash "$0" "$@"; fi

t0=$SECONDS
mkdir -p .dev
failures=.dev/test-failures.txt
: >"$failures"
bash scripts/setup.sh
echo "test: set-up done in $((SECONDS - t0))s"
npx --no-install tsc --noEmit -p .
echo "test: typecheck done in $((SECONDS - t0))s"
npx --no-install tsx scripts/check-style.ts
echo "test: style check done in $((SECONDS - t0))s"

started=0
if ! bash scripts/dev-cluster.sh status >/dev/null 2>&1; then
  bash scripts/dev-cluster.sh start
  started=1
fi
finish() {
  local rc=$?
  # Test Temporal servers (random ports, with or without UI) of a test file that was killed mid-run:
  # orphans, adopted by our reaper (our parent) or PID 1. Those of another run still have
  # their test process as parent and stay. Test servers keep no database file; the dev
  # server (scripts/temporal-dev.ts) does, and stays.
  for pid in $(pgrep -f "$ROOT/.venv/bin/temporal server start-dev" 2>/dev/null); do
    grep -qa -- --db-filename "/proc/$pid/cmdline" 2>/dev/null && continue
    parent=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
    [[ $parent == "$PPID" || $parent == 1 ]] && kill "$pid" 2>/dev/null || true
  done
  # Production-shaped servers (scripts/temporal-pg.ts) of a test file killed mid-run: each
  # test destroys its own, so any left under .dev/chaos/ is an orphan.
  for pid in $(pgrep -f "temporal-server --config-file $ROOT/.dev/chaos/" 2>/dev/null); do
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in $(pgrep -f "postgres -D $ROOT/.dev/chaos/" 2>/dev/null); do kill -INT "$pid" 2>/dev/null || true; done
  if [[ $started == 1 ]]; then
    bash scripts/dev-cluster.sh stop
    left=$(pgrep -f "$ROOT/.dev/cluster" | grep -vc "^$$\$" || true)
    if [[ $left != 0 ]]; then
      echo "test: dev cluster stop left $left process(es) behind:" >&2
      pgrep -af "$ROOT/.dev/cluster" >&2 || true
      rc=1
    fi
  fi
  if [[ -s $failures ]]; then
    echo "test: failed tests:" >&2
    cat "$failures" >&2
  fi
  echo "test: total $((SECONDS - t0))s"
  exit $rc
}
trap finish EXIT

files=("$@")
if ((${#files[@]} == 0)); then
  mapfile -t files < <(ls test/unit/*.test.ts test/integration/*.test.ts test/workflow/*.test.ts \
    test/browser/*.test.ts test/production/*.test.ts 2>/dev/null)
fi
# The production suite's Temporal server, built from the Go module (cached: instant after the
# first build; npm run demo never needs it, so set-up leaves it to here).
if printf '%s\n' "${files[@]}" | grep -q '^test/production/'; then
  bash scripts/build-temporal-server.sh
  echo "test: Temporal server build ready in $((SECONDS - t0))s"
fi
# Suites share one Slurm cluster and two cores: run files one at a time.
# A second reporter collects the failures; finish() prints them after everything else.
# The per-file limit is a ceiling for a hung file, not a clock: 40 min, over 3x the longest
# file measured here (the relion5 campaign, 720 s alone since its series are aligned by the
# campaign itself; it ran past the old 15 min with a second campaign in the same file).
node --import tsx --test --test-concurrency=1 --test-timeout=2400000 \
  --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=./scripts/test-failures-reporter.mjs --test-reporter-destination="$failures" \
  "${files[@]}"
