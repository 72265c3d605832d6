#!/usr/bin/env bash
# Build Gitea (code.gitea.io/gitea), pinned, for the end-to-end gate tests (tests/gitea/):
#   $ROOT/.tools/bin/gitea            the server binary (pure Go: SQLite through modernc, no cgo)
#   $ROOT/.tools/share/gitea/         its options/, templates/ and public/ (the build has no
#                                     bindata tag, so Gitea reads them from its static root; the
#                                     tests point STATIC_ROOT_PATH here)
#
# `go install code.gitea.io/gitea@version` refuses (the module's go.mod has replace lines), so
# the pinned version is fetched with `go mod download` and built with `go build .` in a writable
# copy of the module's own tree (.tools/build/gitea, removed afterwards): ~3.5 min on 2 cores.
#
# Idempotent: a binary built from the pinned version (go version -m; `gitea --version`) whose
# share folder is complete is skipped, so a warm run takes well under a second. The binary and
# its share folder are also kept in the per-machine tools cache (tools/tool-cache.sh,
# ~/.cache/plantctl/tools/gitea-<version>/), from which a fresh clone copies them.
# Uses the default Go module and build caches.
set -euo pipefail

# ---- pinned version (the one place to bump it) --------------------------------------------------
GITEA_VERSION="v1.27.3"
# ------------------------------------------------------------------------------------------------

ROOT="${PLANTCTL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
BIN="$ROOT/.tools/bin"
SHARE="$ROOT/.tools/share/gitea"
WORK="$ROOT/.tools/build/gitea"
MOD=code.gitea.io/gitea
MAIN=gitea.dev  # the module path its go.mod declares (its main package, as go version -m shows)
GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
command -v "$GO" >/dev/null 2>&1 || { echo "install-gitea: no 'go' on PATH (nor /usr/local/go/bin/go)" >&2; exit 1; }
SHARED=(options templates public)

log() { echo "install-gitea: $*"; }
die() { echo "install-gitea: ERROR: $*" >&2; exit 1; }
# shellcheck source=tools/tool-cache.sh
. "$(dirname "${BASH_SOURCE[0]}")/tool-cache.sh"

# True when $1 is Gitea built from its module tree (main package $MAIN) whose
# `--version` says the pinned version; remembered in $1.verified with the file's identity.
gitea_ok() {
  local id out
  [[ -x "$1" ]] || return 1
  "$GO" version -m "$1" 2>/dev/null | awk -v m="$MAIN" '$1 == "path" && $2 == m { ok = 1 } END { exit !ok }' \
    || return 1
  id="$GITEA_VERSION $(stat -c '%d:%i:%s:%y' "$1")" || return 1
  [[ -f "$1.verified" && "$(<"$1.verified")" == "$id" ]] && return 0
  out="$("$1" --version 2>/dev/null)" || return 1
  [[ "$out" == *"version ${GITEA_VERSION#v} "* ]] || return 1
  echo "$id" > "$1.verified"
}

# True when folder $1 holds the static files (a stamp naming the version is written last).
share_ok() {
  [[ -f "$1/.version" && "$(<"$1/.version")" == "$GITEA_VERSION" ]] || return 1
  local d
  for d in "${SHARED[@]}"; do [[ -d "$1/$d" ]] || return 1; done
}

# Copy folder $1's static files to $2 whole (a temporary folder renamed into place).
copy_share() {
  local tmp="$2.tmp.$$" d
  rm -rf "$tmp" && mkdir -p "$tmp" || return 1
  for d in "${SHARED[@]}"; do cp -R "$1/$d" "$tmp/$d" || { rm -rf "$tmp"; return 1; }; done
  chmod -R u+w,a+rX "$tmp" && echo "$GITEA_VERSION" > "$tmp/.version" || { rm -rf "$tmp"; return 1; }
  rm -rf "$2" && mkdir -p "$(dirname "$2")" && mv "$tmp" "$2"
}

mkdir -p "$BIN"
cached="$TOOL_CACHE/gitea-$GITEA_VERSION"
if gitea_ok "$BIN/gitea" && share_ok "$SHARE"; then
  if [[ "$TOOL_CACHE" != off ]] && ! { tool_cache_has gitea "$GITEA_VERSION" gitea && share_ok "$cached/share"; }; then
    tool_cache_put gitea "$GITEA_VERSION" gitea "$BIN/gitea"
    copy_share "$SHARE" "$cached/share" || log "WARNING: could not cache the static files in $cached"
  fi
  log "gitea $GITEA_VERSION already installed"
  exit 0
fi

if [[ "$TOOL_CACHE" != off ]] && share_ok "$cached/share" && tool_cache_get gitea "$GITEA_VERSION" gitea "$BIN/gitea"; then
  if gitea_ok "$BIN/gitea" && copy_share "$cached/share" "$SHARE"; then
    log "gitea $GITEA_VERSION installed from the tools cache ($TOOL_CACHE)"
    exit 0
  fi
  log "cached gitea $GITEA_VERSION failed verification; dropping it and rebuilding"
  tool_cache_drop gitea "$GITEA_VERSION" gitea
  rm -rf "$cached/share" "$BIN/gitea"
fi

log "building gitea $GITEA_VERSION (a first build takes minutes) ..."
start=$SECONDS
src="$("$GO" mod download -json "$MOD@$GITEA_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$src" && -f "$src/go.mod" ]] || die "go mod download $MOD@$GITEA_VERSION gave no module tree"
rm -rf "$WORK" && mkdir -p "$(dirname "$WORK")"
cp -R "$src" "$WORK" && chmod -R u+w "$WORK"
(
  cd "$WORK"
  CGO_ENABLED=0 "$GO" build -trimpath \
    -ldflags "-s -w -X main.Version=${GITEA_VERSION#v} -X main.Tags=" -o "$BIN/gitea.tmp" .
) || { rm -f "$BIN/gitea.tmp"; rm -rf "$WORK"; die "go build of $MOD@$GITEA_VERSION failed"; }
mv -f "$BIN/gitea.tmp" "$BIN/gitea"
copy_share "$WORK" "$SHARE" || die "could not copy the static files to $SHARE"
rm -rf "$WORK"
gitea_ok "$BIN/gitea" || die "the built gitea does not report version $GITEA_VERSION"
tool_cache_put gitea "$GITEA_VERSION" gitea "$BIN/gitea"
[[ "$TOOL_CACHE" == off ]] || copy_share "$SHARE" "$cached/share" \
  || log "WARNING: could not cache the static files in $cached"
log "gitea $GITEA_VERSION installed in $((SECONDS - start)) s"
