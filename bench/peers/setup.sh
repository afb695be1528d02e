#!/usr/bin/env bash
# The peers benchmark's set-up, idempotent (a second run takes well under a second):
#  1. a venv with Snakemake and snakemake-executor-plugin-slurm, exactly as pinned in
#     bench/peers/requirements.txt, cached outside the clone by the requirements' hash and
#     linked at .dev/bench/venv;
#  2. /etc/slurm/{slurm.conf,gres.conf,slurmdbd.conf} as symlinks to the dev cluster's
#     files: Snakemake's job-step plugin strips SLURM_CONF before its inner `srun`, which
#     then only finds the cluster through /etc/slurm. An existing file that is not our
#     symlink is left alone (and the Snakemake runs will say why they fail).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
log() { printf 'bench setup: %s\n' "$*" >&2; }

req=bench/peers/requirements.txt
hash=$(sha256sum "$req" | cut -c1-16)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cryoet-temporal
VENV=$CACHE/venv-bench-$hash
if [[ ! -x $VENV/bin/snakemake || ! -f $VENV/.cryoet-installed ]]; then
  log "creating $VENV (snakemake + snakemake-executor-plugin-slurm from PyPI, ~1 min)"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  "$VENV/bin/snakemake" --version >"$VENV/.cryoet-installed"
fi
mkdir -p .dev/bench
ln -sfn "$VENV" .dev/bench/venv

DEV_ETC=$ROOT/.dev/cluster/etc
mkdir -p /etc/slurm
for f in slurm.conf gres.conf slurmdbd.conf; do
  target=/etc/slurm/$f
  if [[ -L $target || ! -e $target ]]; then
    [[ $(readlink "$target" 2>/dev/null) == "$DEV_ETC/$f" ]] || ln -sfn "$DEV_ETC/$f" "$target"
  else
    log "$target exists and is not a symlink to the dev cluster's; left alone"
  fi
done
log "ready: snakemake $(<"$VENV/.cryoet-installed"), /etc/slurm -> $DEV_ETC"
