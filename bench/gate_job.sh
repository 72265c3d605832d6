#!/usr/bin/env bash
# Times the gate job's steps (.github/workflows/gate.yml, job decide) on this machine, cold and
# warm, without touching the machine's own caches:
#   cold  a fresh clone; empty .venv and .tools; empty GOCACHE, GOMODCACHE and tools cache
#         (temporary folders); pip without its cache (PIP_NO_CACHE_DIR=1): make setup-gate
#         builds OPA from source and installs the venv from PyPI, then make gate.
#   warm  a fresh clone at the same path, the cached paths restored (tar, as actions/cache
#         restores .venv and .tools/bin/opa), make setup-gate, make gate.
# The gate judges BASE..HEAD of this repository (default HEAD~1..HEAD) with an empty review
# list. Prints one line per step and the totals.
#
# Usage: bench/gate_job.sh [BASE [HEAD]]
#   PYTHON_BIN: the folder of the python3 that makes the venv (default: the one on PATH). The
#   gate runs on Debian 12's 3.11.2 as on newer ones.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$(git -C "$SRC" rev-parse "${1:-HEAD~1}")"
HEAD="$(git -C "$SRC" rev-parse "${2:-HEAD}")"
TMP="$(mktemp -d /tmp/plantctl-gate-job-XXXXXX)"
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
GO_BIN="$(dirname "$(command -v go || echo /usr/local/go/bin/go)")"
PY_BIN="${PYTHON_BIN:-$(dirname "$(command -v python3)")}"
export PATH="$PY_BIN:$GO_BIN:/usr/bin:/bin"
export GOCACHE="$TMP/go-build" GOMODCACHE="$TMP/go-mod" PLANTCTL_TOOLS_CACHE="$TMP/tools-cache"
export PIP_NO_CACHE_DIR=1 GOFLAGS="${GOFLAGS:--buildvcs=false}"
unset MAKEFLAGS MAKELEVEL VIRTUAL_ENV PYTHONPATH OPA_URL PLANTCTL_BUNDLE
echo '[]' > "$TMP/reviews.json"
WORK="$TMP/work/repo"  # the same path for both runs (a runner's workspace is fixed)

step() {  # step LABEL COMMAND...: run it, print its wall time, keep the sum
  local label=$1 start end; shift
  start=$(date +%s.%N)
  "$@" >"$TMP/step.log" 2>&1 || { local rc=$?; [[ "$label" == "make gate"* && $rc -eq 2 ]] || { cat "$TMP/step.log"; exit 1; }; }
  end=$(date +%s.%N)
  local took; took=$(echo "$end - $start" | bc)
  printf '  %-34s %7.1f s\n' "$label" "$took"
  TOTAL=$(echo "$TOTAL + $took" | bc)
}

gate() {
  make -C "$WORK" --no-print-directory gate BASE="$BASE" HEAD="$HEAD" \
    REVIEWS="$TMP/reviews.json" AUTHOR=abello OUT="$TMP/out"
}

for mode in cold warm; do
  TOTAL=0
  rm -rf "$TMP/work" && mkdir -p "$TMP/work"
  echo "$mode (nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)):"
  step "checkout (clone)" git clone -q --no-local "$SRC" "$WORK"
  git -C "$WORK" checkout -q --detach "$BASE"
  if [[ $mode == warm ]]; then
    step "restore cache (.venv, opa)" tar -x -C "$WORK" -f "$TMP/cache.tar"
  fi
  step "make setup-gate" make -C "$WORK" --no-print-directory setup-gate
  step "make gate (check + 5 outputs)" gate
  [[ -f "$TMP/out/decision.json" ]] || { echo "no decision record" >&2; exit 1; }
  printf '  %-34s %7.1f s (exit %s)\n' "total" "$TOTAL" "$(cat "$TMP/out/exit-code")"
  if [[ $mode == cold ]]; then
    tar -c -C "$WORK" -f "$TMP/cache.tar" .venv .tools/bin/opa
    echo "  (cache: $(du -sh "$TMP/cache.tar" | cut -f1); Go caches $(du -sh "$GOCACHE" | cut -f1) + $(du -sh "$GOMODCACHE" | cut -f1))"
  fi
done
