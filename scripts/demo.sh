#!/usr/bin/env bash
# npm run demo: set-up (idempotent), the embedded Slurm cluster and Temporal dev server
# (both left running so the Temporal UI stays up), then the demo run. Stop them with
# `bash scripts/dev-cluster.sh stop` and `npx tsx scripts/temporal-dev.ts stop`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
bash scripts/dev-cluster.sh start
npx --no-install tsx scripts/temporal-dev.ts start
exec npx --no-install tsx src/cli.ts demo "$@"
