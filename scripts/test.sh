#!/usr/bin/env bash
# npm test: set-up (idempotent), typecheck, style check (Prettier, no line over 120), then
# every suite — unit, integration (real sshd + single-host Slurm), workflow (real Temporal
# dev server), browser, production (Temporal on PostgreSQL) and science (RELION 5 campaigns).
# The science suite runs beside the others on a cluster of its own, at low priority (dev3,
# see below). Starts the dev clusters it needs if they are not running and stops them again
# afterwards, checking that no daemon is left behind.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Our sandboxes' PID 1 does not reap orphans: run under a subreaper so nothing we start
# lingers as a zombie.
if [[ -z ${CRYOET_SUBREAPER:-} ]]; then exec python3 scripts/reaper.py run -- bash "$0" "$@"; fi

t0=$SECONDS
mkdir -p .dev
failures=.dev/test-failures.txt
science_failures=.dev/test-failures-science.txt
science_tap=.dev/test-science.tap
: >"$failures"
: >"$science_failures"
bash scripts/setup.sh
echo "test: set-up done in $((SECONDS - t0))s"
npx --no-install tsc --noEmit -p .
echo "test: typecheck done in $((SECONDS - t0))s"
npx --no-install tsx scripts/check-style.ts
echo "test: style check done in $((SECONDS - t0))s"

cluster() { CRYOET_CLUSTER=$1 bash scripts/dev-cluster.sh "${@:2}"; }

files=("$@")
if ((${#files[@]} == 0)); then
  mapfile -t files < <(ls test/unit/*.test.ts test/integration/*.test.ts test/workflow/*.test.ts \
    test/browser/*.test.ts test/production/*.test.ts test/science/*.test.ts 2>/dev/null)
fi
main=()
science=()
for f in "${files[@]}"; do
  if [[ $f == test/science/* ]]; then science+=("$f"); else main+=("$f"); fi
done

started=0
started3=0
science_pid=
finish() {
  local rc=$?
  if [[ -n $science_pid ]] && kill -0 "$science_pid" 2>/dev/null; then
    pkill -TERM -P "$science_pid" 2>/dev/null || true
    kill "$science_pid" 2>/dev/null || true
    wait "$science_pid" 2>/dev/null || true
  fi
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
  [[ $started3 == 1 ]] && cluster dev3 stop
  if [[ $started == 1 ]]; then
    bash scripts/dev-cluster.sh stop
    left=$(pgrep -f "$ROOT/.dev/cluster" | grep -vc "^$$\$" || true)
    if [[ $left != 0 ]]; then
      echo "test: dev cluster stop left $left process(es) behind:" >&2
      pgrep -af "$ROOT/.dev/cluster" >&2 || true
      rc=1
    fi
  fi
  if [[ -s $failures || -s $science_failures ]]; then
    echo "test: failed tests:" >&2
    cat "$failures" "$science_failures" >&2
  fi
  echo "test: total $((SECONDS - t0))s"
  exit $rc
}
trap finish EXIT

if ((${#main[@]})) && ! bash scripts/dev-cluster.sh status >/dev/null 2>&1; then
  bash scripts/dev-cluster.sh start
  started=1
fi
if ((${#science[@]})) && ! cluster dev3 status >/dev/null 2>&1; then
  cluster dev3 start
  started3=1
fi
# The production suite's Temporal server, built from the Go module (cached: instant after the
# first build; npm run demo never needs it, so set-up leaves it to here).
if printf '%s\n' "${main[@]}" | grep -q '^test/production/'; then
  bash scripts/build-temporal-server.sh
  echo "test: Temporal server build ready in $((SECONDS - t0))s"
fi

# lane <failures file> <tap destination> <files...>: one node:test run, a file at a time.
# A second reporter collects the failures; finish() prints them after everything else.
# The per-file limit is a ceiling for a hung file, not a clock: 60 min, over 3x the longest
# file measured here (the relion5 campaign beside the other suites, see README "Tests").
lane() {
  node --import tsx --test --test-concurrency=1 --test-timeout=3600000 \
    --test-reporter=tap --test-reporter-destination="$2" \
    --test-reporter=./scripts/test-failures-reporter.mjs --test-reporter-destination="$1" "${@:3}"
}

# Two lanes. Files of one lane run one at a time: they share a Slurm cluster (its nodes,
# its queue, its job and orphan counts) and a Temporal dev server each. The science lane
# (test/science/: RELION 5 refines, CPU-bound for minutes) has a cluster of its own, dev3,
# whose jobs run at nice 15, and runs beside the main lane, which mostly waits on Slurm,
# SSH and timers. Its TAP is printed after the main lane's.
if ((${#science[@]} && ${#main[@]})); then
  lane "$science_failures" "$science_tap" "${science[@]}" &
  science_pid=$!
  main_rc=0
  lane "$failures" stdout "${main[@]}" || main_rc=$?
  science_rc=0
  wait "$science_pid" || science_rc=$?
  science_pid=
  echo "# science lane (test/science/, on dev3 beside the suites above):"
  grep -v '^TAP version' "$science_tap" || true
  echo "test: main lane rc $main_rc, science lane rc $science_rc"
  ((main_rc == 0 && science_rc == 0))
elif ((${#science[@]})); then
  lane "$science_failures" stdout "${science[@]}"
else
  lane "$failures" stdout "${main[@]}"
fi
