#!/usr/bin/env bash
# Builds RELION 5.0.1 for CPU from the vendored source tarball, only the programs the
# campaign and its tests run, into a prefix cached outside the clone:
#   ${XDG_CACHE_HOME:-~/.cache}/cryoet-temporal/relion-5.0.1-<key>/bin/relion_*
# <key> hashes the tarball's sha256, the cmake flags, the targets and RECIPE (raise it when
# the steps below change what is built), so a second run is instant and a change to any of
# them builds a new prefix.
# The build runs in a scratch folder and the prefix appears by one rename only after every
# program answered --version, so an interrupted or failed build never leaves a tree that
# later runs trust. Prints one progress line per 10 % of the compile.
# Usage: build-relion.sh [--print-prefix]   (prints the prefix on stdout when done)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'relion: %s\n' "$*" >&2; }

TARBALL=${CRYOET_RELION_TARBALL:-$ROOT/../shared/vendor/relion-5.0.1.tar.gz}
TARBALL_SHA256=44c66123a2b7e6ad38a9831a4d33fc57791389ed223037d9310885f599af0c97
VERSION=5.0.1
RECIPE=1
# CPU build: no GUI, no CUDA, no ALTCPU (the plain double-precision CPU path, measured in
# ../shared/notes/relion5.md). FETCH_WEIGHTS=OFF: the default downloads model weights.
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DGUI=OFF -DCUDA=OFF -DALTCPU=OFF -DFETCH_WEIGHTS=OFF -DBUILD_SHARED_LIBS=OFF)
# make targets (without the relion_ prefix) → the programs we run.
TARGETS=(subtomo refine_mpi postprocess mask_create reconstruct_tomogram image_handler reconstruct_particle)
PROGRAMS=(relion_tomo_subtomo relion_refine_mpi relion_postprocess relion_mask_create
  relion_tomo_reconstruct_tomogram relion_image_handler relion_tomo_reconstruct_particle)

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cryoet-temporal
key=$(printf '%s\n' "$TARBALL_SHA256" "${CMAKE_FLAGS[*]}" "${TARGETS[*]}" "$RECIPE" | sha256sum | cut -c1-16)
PREFIX=$CACHE/relion-$VERSION-$key

ready() { [[ -f $PREFIX/BUILD-STAMP ]] && "$PREFIX/bin/relion_refine_mpi" --version >/dev/null 2>&1; }
if ready; then
  [[ ${1:-} == --print-prefix ]] && echo "$PREFIX"
  exit 0
fi

[[ -f $TARBALL ]] || { log "missing $TARBALL (RELION $VERSION source, see ../shared/vendor/README.md)"; exit 1; }
have=$(sha256sum "$TARBALL" | cut -d' ' -f1)
if [[ $have != "$TARBALL_SHA256" ]]; then
  log "$TARBALL has sha256 $have, expected $TARBALL_SHA256 (../shared/vendor/README.md)"
  exit 1
fi

mkdir -p "$CACHE"
# One builder at a time per prefix; a second caller waits for the first and then finds it ready.
exec 9>"$PREFIX.lock"
flock 9
if ready; then
  [[ ${1:-} == --print-prefix ]] && echo "$PREFIX"
  exit 0
fi

WORK=$CACHE/relion-build-$key
rm -rf "$WORK" "$PREFIX"
mkdir -p "$WORK"
start=$(date +%s)
log "building RELION $VERSION for CPU (first time on this machine: about 20-30 min on 2 cores)"
tar -xzf "$TARBALL" -C "$WORK"
mkdir -p "$WORK/relion-$VERSION/build"
cd "$WORK/relion-$VERSION/build"
cmake .. "${CMAKE_FLAGS[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" >"$WORK/cmake.log" 2>&1 ||
  { log "cmake failed; see $WORK/cmake.log"; tail -20 "$WORK/cmake.log" >&2; exit 1; }

# Progress: count the compile lines against the object files the targets need. The
# "[ NN%]" that make prints restarts per target, so it is not used.
jobs=${CRYOET_RELION_JOBS:-$(nproc)}
total=$(make -n "${TARGETS[@]}" 2>/dev/null | grep -c 'Building CXX object' || true)
((total > 0)) || total=1
log "compiling $total files with make -j$jobs (cmake took $(($(date +%s) - start)) s)"
set +e
nice -n 10 make -j"$jobs" "${TARGETS[@]}" 2>&1 | tee "$WORK/make.log" | awk -v total="$total" '
  /Building CXX object/ { n++; p = int(100 * n / total / 10) * 10
    if (p > last && p < 100) {
      last = p; printf "relion: %d%% (%d of %d files)\n", p, n, total > "/dev/stderr"; fflush("/dev/stderr") } }'
rc=${PIPESTATUS[0]}
set -e
if ((rc != 0)); then
  log "make failed (exit $rc); see $WORK/make.log"
  grep -m5 -E 'error|Error' "$WORK/make.log" >&2 || tail -20 "$WORK/make.log" >&2
  exit 1
fi

STAGE=$PREFIX.tmp.$$
mkdir -p "$STAGE/bin"
for p in "${PROGRAMS[@]}"; do cp "bin/$p" "$STAGE/bin/"; done
if compgen -G 'lib/*.so*' >/dev/null; then mkdir -p "$STAGE/lib" && cp -a lib/*.so* "$STAGE/lib/"; fi
for p in "${PROGRAMS[@]}"; do
  LD_LIBRARY_PATH=$STAGE/lib "$STAGE/bin/$p" --version >/dev/null 2>&1 ||
    "$STAGE/bin/$p" --help >/dev/null 2>&1 || { log "$p does not run; see $WORK/make.log"; exit 1; }
done
secs=$(($(date +%s) - start))
{
  echo "RELION $VERSION"
  echo "source sha256 $TARBALL_SHA256"
  echo "cmake ${CMAKE_FLAGS[*]}"
  echo "targets ${TARGETS[*]}"
  echo "built $(date -u +%FT%TZ) in ${secs} s with make -j$jobs"
  "$STAGE/bin/relion_refine_mpi" --version 2>&1 | grep -m2 . | sed 's/^/version: /'
} >"$STAGE/BUILD-STAMP"
mv -T "$STAGE" "$PREFIX"
rm -rf "$WORK"
log "built in $secs s: $PREFIX"
[[ ${1:-} == --print-prefix ]] && echo "$PREFIX"
exit 0
