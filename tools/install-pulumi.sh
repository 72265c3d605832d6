#!/usr/bin/env bash
# Build the Pulumi engine from Go sources, pinned, into $ROOT/.tools/bin:
#   pulumi                          github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (via tools/pulumi/go.mod)
#   pulumi-language-python          github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
#     + pulumi-language-python-exec (its Python helper, shipped in the sdk/v3 module)   [best effort]
#   pulumi-resource-pulumi-python   copy of tools/pulumi-resource-pulumi-python (dynamic providers)
#
# Idempotent: a binary that exists and was built from the pinned version is skipped (checked with
# `go version -m`, no network), so a warm run takes well under 2 s. Uses the default Go caches.
# `go install pkg@version` refuses pulumi (its go.mod has replace directives), hence the tools
# module; it is built in a scratch copy (.tools/build/pulumi) so the repository stays clean.
#
# Env: PLANTCTL_ROOT (repo root; default: this script's parent dir)
#      PULUMI_LANGUAGE_PYTHON_VERSION (override the language host's module version, see below)
#      PLANTCTL_REQUIRE_LANGUAGE_PYTHON=1 (fail, instead of warn, when the language host won't build)
set -euo pipefail

# ---- pinned versions (the one place to bump them; keep tools/pulumi/go.mod in step) -----------
# Must match the major.minor of the `pulumi` Python SDK in the venv (PyPI pulumi 3.272.0).
PULUMI_VERSION="v3.272.0"
# The language host module has no tags of its own: use the pseudo-version of the v3.272.0 release
# commit, v3.0.0-20261022184643-<first 12 hex of that commit>. Left empty, the script tries
# ${PULUMI_VERSION} as a tag of that module.
PULUMI_LANGUAGE_PYTHON_VERSION="${PULUMI_LANGUAGE_PYTHON_VERSION:-}"
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
LANG_MOD=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
VERSION_LDFLAG="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}"

log() { echo "install-pulumi: $*"; }
die() { echo "install-pulumi: ERROR: $*" >&2; exit 1; }

# True when binary $1 embeds build info with main package $2 and dependency/module $3 at version $4.
built_at() {
  [[ -x "$1" ]] || return 1
  "$GO" version -m "$1" 2>/dev/null | awk -v p="$2" -v m="$3" -v v="$4" '
    $1 == "path" && $2 == p { okp = 1 }
    ($1 == "dep" || $1 == "mod") && $2 == m && $3 == v { okm = 1 }
    END { exit !(okp && okm) }'
}

mkdir -p "$BIN"

# ---- 1. dynamic-provider launcher (always refreshed; cheap) -----------------------------------
if ! cmp -s "$ROOT/tools/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python" 2>/dev/null; then
  install -m 0755 "$ROOT/tools/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
  log "pulumi-resource-pulumi-python launcher installed"
fi

need_cli=1 need_lang=1
built_at "$BIN/pulumi" "$PKG_MOD/cmd/pulumi" "$PKG_MOD" "$PULUMI_VERSION" && need_cli=0
built_at "$BIN/pulumi-language-python" "$LANG_MOD" "$SDK_MOD" "$PULUMI_VERSION" \
  && [[ -x "$BIN/pulumi-language-python-exec" ]] && need_lang=0
# A language host that failed to build for this pin is not retried on every run (keeps warm runs
# fast); delete the marker or set PLANTCTL_RETRY_LANGUAGE_PYTHON=1 to try again.
LANG_FAILED="$ROOT/.tools/build/pulumi-language-python.${PULUMI_LANGUAGE_PYTHON_VERSION:-$PULUMI_VERSION}.failed"
if [[ $need_lang == 1 && -f "$LANG_FAILED" && "${PLANTCTL_RETRY_LANGUAGE_PYTHON:-0}" != 1 \
      && "${PLANTCTL_REQUIRE_LANGUAGE_PYTHON:-0}" != 1 ]]; then
  log "pulumi-language-python skipped: it failed to build before (see $LANG_FAILED)"
  need_lang=0
fi
[[ $need_cli == 0 ]] && log "pulumi $PULUMI_VERSION already installed"
[[ $need_lang == 0 && ! -f "$LANG_FAILED" ]] && log "pulumi-language-python (sdk $PULUMI_VERSION) already installed"
[[ $need_cli == 0 && $need_lang == 0 ]] && exit 0

# ---- 2. scratch copy of the tools module -------------------------------------------------------
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

# ---- 3. the CLI --------------------------------------------------------------------------------
if [[ $need_cli == 1 ]]; then
  log "building pulumi $PULUMI_VERSION (first build takes many minutes on 2 cores) ..."
  t0=$SECONDS
  "$GO" build -trimpath -ldflags "$VERSION_LDFLAG" -o "$BIN/pulumi.tmp" "$PKG_MOD/cmd/pulumi"
  mv -f "$BIN/pulumi.tmp" "$BIN/pulumi"
  log "pulumi $PULUMI_VERSION built in $((SECONDS - t0)) s"
fi

# ---- 4. the Python language host (best effort) -------------------------------------------------
build_lang() {
  local ver="${PULUMI_LANGUAGE_PYTHON_VERSION:-$PULUMI_VERSION}" t0=$SECONDS sdkdir
  log "building pulumi-language-python ($LANG_MOD@$ver) ..."
  "$GO" get "$LANG_MOD@$ver" || return 1
  sync_replaces "$PKG_MOD@$PULUMI_VERSION" "$SDK_MOD@$PULUMI_VERSION" "$LANG_MOD@$ver" || return 1
  for m in "$PKG_MOD" "$SDK_MOD"; do
    [[ "$("$GO" list -m -f '{{.Version}}' "$m")" == "$PULUMI_VERSION" ]] \
      || { echo "$LANG_MOD@$ver moves $m off $PULUMI_VERSION" >&2; return 1; }
  done
  "$GO" build -trimpath -ldflags "$VERSION_LDFLAG" -o "$BIN/pulumi-language-python.tmp" "$LANG_MOD" || return 1
  sdkdir="$("$GO" list -m -f '{{.Dir}}' "$SDK_MOD")" || return 1
  install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec" || return 1
  mv -f "$BIN/pulumi-language-python.tmp" "$BIN/pulumi-language-python" || return 1
  log "pulumi-language-python built in $((SECONDS - t0)) s"
}
if [[ $need_lang == 1 ]]; then
  mkdir -p "$(dirname "$LANG_FAILED")"; rm -f "$LANG_FAILED"
  if ! build_lang 2>"$LANG_FAILED.tmp"; then
    rm -f "$BIN/pulumi-language-python.tmp"
    grep -v '^go: downloading' "$LANG_FAILED.tmp" | tail -n 20 >&2 || true
    mv -f "$LANG_FAILED.tmp" "$LANG_FAILED"
    msg="pulumi-language-python could not be built; Pulumi.yaml (runtime: python) projects will not run,"
    msg+=" Automation API inline programs (program=...) still work with the pulumi CLI alone"
    [[ "${PLANTCTL_REQUIRE_LANGUAGE_PYTHON:-0}" == 1 ]] && die "$msg"
    log "WARNING: $msg"
  else
    rm -f "$LANG_FAILED.tmp"
  fi
fi
log "done in $((SECONDS - start)) s"
