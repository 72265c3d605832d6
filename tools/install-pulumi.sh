#!/usr/bin/env bash
# Build the Pulumi engine from Go sources, pinned, into $ROOT/.tools/bin:
#   pulumi                          github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (via tools/pulumi/go.mod)
#   pulumi-resource-pulumi-python   copy of tools/pulumi-resource-pulumi-python (dynamic providers)
#
# The Python language host (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is
# not built: the Go module proxy refuses it at every version. Programs therefore run as Automation
# API inline programs (pulumi.automation, program=...), which host the Python runtime in-process and
# need only the CLI; Pulumi.yaml projects with `runtime: python` run by `pulumi up` do not work.
#
# Idempotent: a binary that exists and was built from the pinned version is skipped (checked with
# `go version -m` and `pulumi version`, no network), so a warm run takes a fraction of a second.
# A built CLI is also kept in a per-machine cache outside the repository (tools/tool-cache.sh,
# ~/.cache/plantctl/tools/pulumi-<version>/pulumi), from which a fresh clone copies it (verified the
# same way) instead of rebuilding. Uses the default Go caches.
# `go install pkg@version` refuses pulumi (its go.mod has replace directives), hence the tools
# module; it is built in a scratch copy (.tools/build/pulumi) so the repository stays clean.
#
# Env: PLANTCTL_ROOT (repo root; default: this script's parent dir)
#      PLANTCTL_TOOLS_CACHE (the binary cache; "off" disables it)
set -euo pipefail

# ---- pinned versions (the one place to bump them; keep tools/pulumi/go.mod in step) -----------
# Must equal the `pulumi` Python SDK pinned in pyproject.toml / requirements.lock (pulumi==3.259.0).
# v3.259.0 is the newest release of github.com/pulumi/pulumi/pkg/v3 the Go module proxy serves here
# (v3.260.0 and later answer 403).
PULUMI_VERSION="v3.259.0"
# ------------------------------------------------------------------------------------------------

ROOT="${PLANTCTL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
BIN="$ROOT/.tools/bin"
SRC="$ROOT/tools/pulumi"
WORK="$ROOT/.tools/build/pulumi"
GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
command -v "$GO" >/dev/null 2>&1 || { echo "install-pulumi: no 'go' on PATH (nor /usr/local/go/bin/go)" >&2; exit 1; }

PKG_MOD=github.com/pulumi/pulumi/pkg/v3
SDK_MOD=github.com/pulumi/pulumi/sdk/v3
VERSION_LDFLAG="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}"

log() { echo "install-pulumi: $*"; }
die() { echo "install-pulumi: ERROR: $*" >&2; exit 1; }
# shellcheck source=tools/tool-cache.sh
. "$(dirname "${BASH_SOURCE[0]}")/tool-cache.sh"

# True when $1 is the pulumi CLI built from $PKG_MOD at $PULUMI_VERSION (build info) and stamped
# with that version (`pulumi version`; -trimpath keeps -ldflags out of the build info). Running
# `pulumi version` takes most of a second, so its success is remembered in $1.verified along with
# the file's identity (device, inode, size, mtime) and not repeated while that is unchanged.
cli_ok() {
  local id
  [[ -x "$1" ]] || return 1
  "$GO" version -m "$1" 2>/dev/null | awk -v p="$PKG_MOD/cmd/pulumi" -v m="$PKG_MOD" -v v="$PULUMI_VERSION" '
    $1 == "path" && $2 == p { okp = 1 }
    ($1 == "dep" || $1 == "mod") && $2 == m && $3 == v { okm = 1 }
    END { exit !(okp && okm) }' || return 1
  id="$PULUMI_VERSION $(stat -c '%d:%i:%s:%y' "$1")" || return 1
  [[ -f "$1.verified" && "$(<"$1.verified")" == "$id" ]] && return 0
  [[ "$(PULUMI_SKIP_UPDATE_CHECK=1 "$1" version 2>/dev/null)" == "$PULUMI_VERSION" ]] || return 1
  echo "$id" > "$1.verified"
}

mkdir -p "$BIN"

# ---- 1. dynamic-provider launcher (always refreshed; cheap) -----------------------------------
if ! cmp -s "$ROOT/tools/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python" 2>/dev/null; then
  install -m 0755 "$ROOT/tools/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
  log "pulumi-resource-pulumi-python launcher installed"
fi

# ---- 2. the CLI: installed already, or from the per-machine cache -------------------------------
LANG_NOTE="(no pulumi-language-python: the module proxy refuses it; Automation API inline programs need only the CLI)"
if cli_ok "$BIN/pulumi"; then
  tool_cache_has pulumi "$PULUMI_VERSION" pulumi || tool_cache_put pulumi "$PULUMI_VERSION" pulumi "$BIN/pulumi"
  log "pulumi $PULUMI_VERSION already installed"
  exit 0
fi
if tool_cache_get pulumi "$PULUMI_VERSION" pulumi "$BIN/pulumi"; then
  if cli_ok "$BIN/pulumi"; then
    log "pulumi $PULUMI_VERSION installed from the tools cache ($TOOL_CACHE) $LANG_NOTE"
    exit 0
  fi
  log "cached pulumi $PULUMI_VERSION failed verification; dropping it and rebuilding"
  tool_cache_drop pulumi "$PULUMI_VERSION" pulumi
  rm -f "$BIN/pulumi"
fi

# ---- 3. scratch copy of the tools module -------------------------------------------------------
rm -rf "$WORK"; mkdir -p "$WORK"
cp "$SRC/go.mod" "$SRC/tools.go" "$WORK/"
[[ -f "$SRC/go.sum" ]] && cp "$SRC/go.sum" "$WORK/"
cd "$WORK"
export GOFLAGS="${GOFLAGS:-} -mod=mod"

# Replace directives of module $1@$2's go.mod that point at another module (not a local path),
# one "old[@ver]=new@ver" per line.
upstream_replaces() {
  local gomod
  gomod="$("$GO" mod download -json "$1@$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("Error"):
    print("install-pulumi: go mod download: " + d["Error"], file=sys.stderr)
print(d.get("GoMod", ""))')" || true
  [[ -n "$gomod" && -f "$gomod" ]] || return 1
  "$GO" mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    o, n = r["Old"], r["New"]
    if not n.get("Version"):
        continue  # local path replace (=> ../sdk): not for us
    old = o["Path"] + ("@" + o["Version"] if o.get("Version") else "")
    print(old + "=" + n["Path"] + "@" + n["Version"])'
}

# Make this module's replaces equal to the upstream ones of the modules given (warn on drift).
sync_replaces() {
  local want have r
  want="$(for m in "$@"; do upstream_replaces "${m%@*}" "${m#*@}" || exit 1; done | sort -u)" || return 1
  have="$("$GO" mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    o, n = r["Old"], r["New"]
    print(o["Path"] + ("@" + o["Version"] if o.get("Version") else "") + "=" + n["Path"] + "@" + n.get("Version", ""))' | sort -u)"
  if [[ "$want" != "$have" ]]; then
    log "WARNING: tools/pulumi/go.mod replace directives differ from upstream's; building with upstream's:"
    diff <(echo "$have") <(echo "$want") | sed -n 's/^[<>]/  &/p' >&2 || true
    while read -r r; do [[ -n "$r" ]] && "$GO" mod edit -dropreplace="${r%%=*}"; done <<<"$have"
    while read -r r; do [[ -n "$r" ]] && "$GO" mod edit -replace="$r"; done <<<"$want"
  fi
}

start=$SECONDS
log "resolving $PKG_MOD@$PULUMI_VERSION and $SDK_MOD@$PULUMI_VERSION ..."
if ! sync_replaces "$PKG_MOD@$PULUMI_VERSION" "$SDK_MOD@$PULUMI_VERSION"; then
  die "could not download $PKG_MOD@$PULUMI_VERSION from the Go module proxy (see the error above)"
fi
"$GO" mod tidy || die "go mod tidy failed for the pulumi tools module"
# Dependency versions must not have moved off the pin.
for m in "$PKG_MOD" "$SDK_MOD"; do
  v="$("$GO" list -m -f '{{.Version}}' "$m")"
  [[ "$v" == "$PULUMI_VERSION" ]] || die "$m resolved to $v, expected $PULUMI_VERSION"
done
[[ -f "$SRC/go.sum" ]] || log "hint: commit $WORK/go.sum as tools/pulumi/go.sum to pin checksums"

# ---- 4. build the CLI --------------------------------------------------------------------------
log "building pulumi $PULUMI_VERSION (first build takes many minutes on 2 cores) ..."
t0=$SECONDS
"$GO" build -trimpath -ldflags "$VERSION_LDFLAG" -o "$BIN/pulumi.tmp" "$PKG_MOD/cmd/pulumi" \
  || { rm -f "$BIN/pulumi.tmp"; die "go build of $PKG_MOD/cmd/pulumi@$PULUMI_VERSION failed"; }
mv -f "$BIN/pulumi.tmp" "$BIN/pulumi"
cli_ok "$BIN/pulumi" || die "the pulumi just built does not report $PULUMI_VERSION"
tool_cache_put pulumi "$PULUMI_VERSION" pulumi "$BIN/pulumi"
log "pulumi $PULUMI_VERSION built in $((SECONDS - t0)) s $LANG_NOTE"
log "done in $((SECONDS - start)) s"
