#!/usr/bin/env bash
# Installs everything the project needs, idempotently, so `npm test` and `npm run demo`
# work on a fresh clone: Debian packages (Slurm, munge, MariaDB, sshd), node_modules
# (npm ci from the lockfile) and a project venv with the pinned Temporal CLI.
# A second run with everything in place takes well under a second.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { printf 'setup: %s\n' "$*" >&2; }

# 1. Debian packages for the embedded cluster.
APT_PACKAGES=(slurm-wlm slurmdbd mariadb-server munge openssh-server openssh-client
  relion openmpi-bin python3-numpy  # the embedded science tools (RELION 3.1 on CPU)
  libopenmpi-dev                    # mpi.h, to build embedded/mpi_nap and RELION 5 (below)
  cmake g++ libfftw3-dev libtiff-dev libpng-dev libjpeg-dev zlib1g-dev  # RELION 5 (below)
  chromium                          # the browser tests (playwright-core drives /usr/bin/chromium)
  postgresql)                       # the production-shaped Temporal (scripts/temporal-pg.ts)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages' own services from starting; the dev cluster runs its own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. node_modules, exactly as locked. The stamp is the lockfile's hash.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/.cryoet-lock-hash || $(<node_modules/.cryoet-lock-hash) != "$lock_hash" ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >node_modules/.cryoet-lock-hash
fi

# 2b. src/ compiled to lib/ for `cryoet` (a long-lived worker is smaller without tsx's
# loader thread); skipped when lib/ matches the sources.
node scripts/build-lib.mjs

# 3. Python venv with the pinned Temporal CLI. The venv is cached outside the clone,
# keyed by the requirements' hash, so fresh clones on the same machine reuse it.
req_hash=$(cat scripts/requirements-*.txt | sha256sum | cut -c1-16)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cryoet-temporal
VENV=$CACHE/venv-$req_hash
if [[ ! -x $VENV/bin/temporal ]] || ! "$VENV/bin/temporal" --version >/dev/null 2>&1; then
  log "creating $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    $(printf -- '-r %s ' scripts/requirements-*.txt)
fi
ln -sfn "$VENV" .venv

# 4. embedded/mpi_nap: blocking MPI calls sleep instead of spinning (its header says why),
# preloaded into the embedded refine's ranks (temporal.yaml tools.mpiPreload). Cached
# outside the clone, keyed by the source's and mpicc's hash; built to a temporary name and
# moved into place, so an interrupted build never leaves a library that later runs trust.
nap_hash=$(cat embedded/mpi_nap/mpi_nap.c "$(command -v mpicc)" | sha256sum | cut -c1-16)
NAP=$CACHE/mpi-nap-$nap_hash/libmpi_nap.so
if [[ ! -f $NAP ]]; then
  log "building $NAP"
  mkdir -p "$(dirname "$NAP")"
  mpicc -O2 -shared -fPIC -Wall -Werror -o "$NAP.tmp.$$" embedded/mpi_nap/mpi_nap.c
  mv -f "$NAP.tmp.$$" "$NAP"
fi
mkdir -p .dev/lib
ln -sfn "$NAP" .dev/lib/libmpi_nap.so

# 5. RELION 5.0.1 for CPU from ../shared/vendor (scripts/build-relion.sh: cached outside the
# clone by the tarball's sha256 and the build flags; 20-30 min the first time on 2 cores,
# instant after). .dev/relion5 points at its prefix; temporal.yaml's relion5 profile uses it.
RELION5=$(bash scripts/build-relion.sh --print-prefix)
ln -sfn "$RELION5" .dev/relion5

log "ready: $(.venv/bin/temporal --version); $(sed -n 1p .dev/relion5/BUILD-STAMP)"
