#!/usr/bin/env bash
# Builds the Temporal server and its SQL schema tool from the Go module go.temporal.io/server
# (pinned below), for the production-shaped test server (scripts/temporal-pg.ts: PostgreSQL
# persistence and SQL visibility). Cached outside the clone:
#   ${XDG_CACHE_HOME:-~/.cache}/cryoet-temporal/temporal-server-<version>-<key>/
#     bin/temporal-server, bin/temporal-sql-tool, schema/postgresql/v12/, BUILD-STAMP
# It builds inside the module's own tree, so every dependency is the one the release's go.sum
# pins. v1.32.2 needs Go >= 1.26.10: the Go module proxy serves the go1.27.3 toolchain, which
# GOTOOLCHAIN fetches (76 MB, once); only this build uses it.
# The prefix appears by one rename after both programs ran, so a failed build leaves nothing
# later runs trust. Usage: build-temporal-server.sh [--print-prefix]
set -euo pipefail
log() { printf 'temporal-server: %s\n' "$*" >&2; }

VERSION=v1.32.2
TOOLCHAIN=go1.27.3
RECIPE=1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cryoet-temporal
key=$(printf '%s\n' "$VERSION" "$TOOLCHAIN" "$RECIPE" | sha256sum | cut -c1-16)
PREFIX=$CACHE/temporal-server-${VERSION#v}-$key

ready() { [[ -f $PREFIX/BUILD-STAMP ]] && "$PREFIX/bin/temporal-server" --version >/dev/null 2>&1; }
done_() { [[ ${1:-} == --print-prefix ]] && echo "$PREFIX"; exit 0; }
ready && done_ "${1:-}"

command -v go >/dev/null || { log "go is not installed (the machine's Go starts the $TOOLCHAIN toolchain)"; exit 1; }
mkdir -p "$CACHE"
exec 9>"$PREFIX.lock"
flock 9
ready && done_ "${1:-}"

export GOTOOLCHAIN=$TOOLCHAIN GOFLAGS=-modcacherw
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOPATH=$CACHE/go/path
started=$(date +%s)
scratch=$(mktemp -d "$CACHE/temporal-server-build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
log "downloading go.temporal.io/server@$VERSION and its dependencies"
src=$(cd "$scratch" && go mod download -json "go.temporal.io/server@$VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[[ -d $src ]] || { log "go mod download gave no source folder"; exit 1; }
mkdir -p "$scratch/out/bin" "$scratch/out/schema"
log "building temporal-server and temporal-sql-tool with $TOOLCHAIN (several minutes on 2 cores)"
(cd "$src" && go build -trimpath -o "$scratch/out/bin/temporal-server" ./cmd/server)
(cd "$src" && go build -trimpath -o "$scratch/out/bin/temporal-sql-tool" ./cmd/tools/sql)
cp -r "$src/schema/postgresql" "$scratch/out/schema/"
"$scratch/out/bin/temporal-server" --version >/dev/null
"$scratch/out/bin/temporal-sql-tool" --help >/dev/null
took=$(( $(date +%s) - started ))
printf 'Temporal server %s (go.temporal.io/server, %s), built in %d s\n' "$VERSION" "$TOOLCHAIN" "$took" \
  >"$scratch/out/BUILD-STAMP"
rm -rf "$PREFIX"
mv "$scratch/out" "$PREFIX"
log "built in $took s: $PREFIX"
done_ "${1:-}"
