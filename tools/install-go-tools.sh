#!/usr/bin/env bash
# Install the project's Go-built policy tools, pinned, into $ROOT/.tools/bin:
#   opa       github.com/open-policy-agent/opa
#   regal     github.com/open-policy-agent/regal
#   conftest  github.com/open-policy-agent/conftest
#   actionlint github.com/rhysd/actionlint (the workflows' linter, `make lint`)
#
# Usage: tools/install-go-tools.sh [opa|regal|conftest|actionlint ...]   (default: all four)
#
# Each tool is built with `GOBIN=$ROOT/.tools/bin go install -trimpath <package>@<pinned version>`.
# Where that refuses (e.g. a module proxy that serves the pinned version but not the module's
# version list, which `go install pkg@version` reads for its deprecation check; Regal here), the
# same pinned version is built from a throwaway module under .tools/build/<tool> with `go build`.
#
# Idempotent: a tool whose binary exists and was built from the pinned module version is skipped
# (checked with `go version -m`, no network), so a warm run takes well under 2 s.
# Built binaries are also kept in a per-machine cache outside the repository (tools/tool-cache.sh,
# ~/.cache/plantctl/tools/<tool>-<version>/), from which a fresh clone copies them (verified the
# same way) instead of rebuilding.
# Uses the default Go module and build caches (~/go/pkg/mod, ~/.cache/go-build).
# Exit status is non-zero if any requested tool could not be installed; the others still are.
set -euo pipefail

# ---- pinned versions (the one place to bump them) ---------------------------------------------
OPA_VERSION="v1.22.2"
REGAL_VERSION="v0.38.1"
CONFTEST_VERSION="v0.71.1"
ACTIONLINT_VERSION="v1.7.12"
# ------------------------------------------------------------------------------------------------

ROOT="${PLANTCTL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
BIN="$ROOT/.tools/bin"
GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
command -v "$GO" >/dev/null 2>&1 || { echo "install-go-tools: no 'go' on PATH (nor /usr/local/go/bin/go)" >&2; exit 1; }

declare -A MODULE PACKAGE VERSION LDFLAGS VERSION_CMD VERSION_LINE
# OPA's version string is in its source; Regal and conftest take theirs from -X (their release
# builds do the same), otherwise they would report "unknown" / "dev".
MODULE[opa]=github.com/open-policy-agent/opa
VERSION[opa]=$OPA_VERSION
LDFLAGS[opa]=""
VERSION_CMD[opa]="version"          # "Version: 1.22.2"
MODULE[regal]=github.com/open-policy-agent/regal
VERSION[regal]=$REGAL_VERSION
LDFLAGS[regal]="-X github.com/open-policy-agent/regal/pkg/version.Version=${REGAL_VERSION#v}"
VERSION_CMD[regal]="version"        # "Version:       0.38.1"
MODULE[conftest]=github.com/open-policy-agent/conftest
VERSION[conftest]=$CONFTEST_VERSION
LDFLAGS[conftest]="-X github.com/open-policy-agent/conftest/internal/version.Version=${CONFTEST_VERSION#v}"
VERSION_CMD[conftest]="--version"   # "Conftest: 0.71.1"
# actionlint's main package is not at its module root; its version comes from the build info.
MODULE[actionlint]=github.com/rhysd/actionlint
PACKAGE[actionlint]=github.com/rhysd/actionlint/cmd/actionlint
VERSION[actionlint]=$ACTIONLINT_VERSION
LDFLAGS[actionlint]=""
VERSION_CMD[actionlint]="-version"  # "v1.7.12" on its first line
VERSION_LINE[actionlint]="^${ACTIONLINT_VERSION//./\\.}\$"
for t in "${!MODULE[@]}"; do
  : "${PACKAGE[$t]:=${MODULE[$t]}}"
  : "${VERSION_LINE[$t]:=^[A-Za-z ]+: *${VERSION[$t]#v}\$}"
done

log() { echo "install-go-tools: $*"; }
# shellcheck source=tools/tool-cache.sh
. "$(dirname "${BASH_SOURCE[0]}")/tool-cache.sh"

# True when $1 is a Go binary whose main package is $6, built from module $2 at version $3 (as
# recorded by `go version -m`), and whose own version command ($4, e.g. "version") prints a line
# matching $5, e.g. "<label>: <version without v>" (so a binary built without the -X version
# stamp is rebuilt; -trimpath keeps -ldflags out of the recorded build info, hence asking the
# binary itself).
built_at() {
  [[ -x "$1" ]] || return 1
  "$GO" version -m "$1" 2>/dev/null | awk -v p="$6" -v m="$2" -v v="$3" '
    $1 == "path" && $2 == p { okp = 1 }
    ($1 == "mod" || $1 == "dep") && $2 == m && $3 == v { okm = 1 }
    END { exit !(okp && okm) }' || return 1
  # The version command's success is remembered in $1.verified with the file's identity (device,
  # inode, size, mtime), so warm runs do not start every tool again.
  local out id
  id="$3 $(stat -c '%d:%i:%s:%y' "$1")" || return 1
  [[ -f "$1.verified" && "$(<"$1.verified")" == "$id" ]] && return 0
  out="$("$1" $4 2>/dev/null)" || return 1
  grep -Eq "$5" <<<"$out" || return 1
  echo "$id" > "$1.verified"
}

# Fallback: build module $2@$3 (main package ${PACKAGE[$1]}) into $BIN/$1 from a throwaway
# module that requires it, which needs only that version from the proxy, not its version list.
build_via_module() {
  local t=$1 mod=$2 ver=$3 work="$ROOT/.tools/build/$1"
  rm -rf "$work" && mkdir -p "$work" || return 1
  # (errexit is off inside a caller's `if`/`elif` condition, hence the explicit `|| exit 1`s)
  (
    cd "$work" || exit 1
    export GOFLAGS="${GOFLAGS:-} -mod=mod"
    "$GO" mod init "plantctl-tools/$t" 2>/dev/null || exit 1
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "${PACKAGE[$t]}" > tools.go || exit 1
    "$GO" mod edit -require="$mod@$ver" || exit 1
    "$GO" mod tidy || exit 1
    [[ "$("$GO" list -m -f '{{.Version}}' "$mod")" == "$ver" ]] || { echo "$mod moved off $ver" >&2; exit 1; }
    "$GO" build -trimpath -ldflags "${LDFLAGS[$t]}" -o "$BIN/$t.tmp" "${PACKAGE[$t]}" || exit 1
  ) && mv -f "$BIN/$t.tmp" "$BIN/$t"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(opa regal conftest actionlint)

mkdir -p "$BIN"
failed=()
for t in "${tools[@]}"; do
  if [[ -z "${MODULE[$t]:-}" ]]; then
    echo "install-go-tools: unknown tool '$t' (known: opa regal conftest actionlint)" >&2
    failed+=("$t"); continue
  fi
  mod="${MODULE[$t]}" ver="${VERSION[$t]}"
  check=("$mod" "$ver" "${VERSION_CMD[$t]}" "${VERSION_LINE[$t]}" "${PACKAGE[$t]}")
  if built_at "$BIN/$t" "${check[@]}"; then
    tool_cache_has "$t" "$ver" "$t" || tool_cache_put "$t" "$ver" "$t" "$BIN/$t"
    log "$t $ver already installed"
    continue
  fi
  if tool_cache_get "$t" "$ver" "$t" "$BIN/$t"; then
    if built_at "$BIN/$t" "${check[@]}"; then
      log "$t $ver installed from the tools cache ($TOOL_CACHE)"
      continue
    fi
    log "cached $t $ver failed verification; dropping it and rebuilding"
    tool_cache_drop "$t" "$ver" "$t"
    rm -f "$BIN/$t"
  fi
  log "building $t $ver (a first build takes minutes) ..."
  start=$SECONDS
  if GOBIN="$BIN" "$GO" install -trimpath -ldflags "${LDFLAGS[$t]}" "${PACKAGE[$t]}@$ver"; then
    log "$t $ver installed in $((SECONDS - start)) s"
    tool_cache_put "$t" "$ver" "$t" "$BIN/$t"
  elif log "go install ${PACKAGE[$t]}@$ver refused; building it from a throwaway module instead" \
       && build_via_module "$t" "$mod" "$ver"; then
    log "$t $ver installed in $((SECONDS - start)) s"
    tool_cache_put "$t" "$ver" "$t" "$BIN/$t"
  else
    rm -f "$BIN/$t.tmp"
    echo "install-go-tools: FAILED to install $t $ver" >&2
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "install-go-tools: not installed: ${failed[*]}" >&2
  exit 1
fi
