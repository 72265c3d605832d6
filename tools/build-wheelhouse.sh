#!/usr/bin/env bash
# Builds the collector's offline wheelhouse on the controller: a wheel of this repository
# (plantctl, installed on gateways without its own dependencies) and the wheels of the collector's
# dependencies (pyproject's `collector` extra and everything they need), pinned to
# requirements.lock. The `collector` Ansible role ships it to gateways, which install with
# `pip --no-index`: gateways never reach a package index.
#
# Usage: tools/build-wheelhouse.sh [OUT]        (default OUT: .state/wheelhouse)
# Writes OUT/wheelhouse.tar (wheels/ + wheels/requirements.txt) and OUT/BUILD_ID, a hash of the
# inputs (sources, pyproject.toml, requirements.lock). Skipped when BUILD_ID is unchanged, so a
# warm run takes well under a second. Needs the package index (PyPI) only when it rebuilds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/.state/wheelhouse}"
PY="${PY:-$ROOT/.venv/bin/python}"

build_id=$(cd "$ROOT" && { find src/plantctl -type f \( -name '*.py' -o -name '*.typed' \) | LC_ALL=C sort; echo pyproject.toml; echo requirements.lock; } \
  | xargs sha256sum | sha256sum | cut -c1-16)
if [[ -f "$OUT/BUILD_ID" && -f "$OUT/wheelhouse.tar" && "$(cat "$OUT/BUILD_ID")" == "$build_id" ]]; then
  echo "build-wheelhouse: $OUT is current ($build_id)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/wheels" "$OUT"
start=$SECONDS

# The collector's dependency closure, pinned as installed from requirements.lock.
"$PY" - "$ROOT/pyproject.toml" > "$work/wheels/requirements.txt" <<'PYEOF'
import sys, tomllib
from importlib.metadata import distribution
from packaging.requirements import Requirement

extra = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["collector"]
todo, pins = [Requirement(r) for r in extra], {}
while todo:
    req = todo.pop()
    if req.marker and not req.marker.evaluate({"extra": ""}):
        continue
    name = req.name.lower().replace("_", "-")
    if name in pins:
        continue
    dist = distribution(req.name)
    pins[name] = dist.version
    todo.extend(Requirement(r) for r in (dist.requires or []))
for name in sorted(pins):
    print(f"{name}=={pins[name]}")
PYEOF

SOURCE_DATE_EPOCH=315532800 "$PY" -m pip wheel -q --disable-pip-version-check --no-deps \
  -w "$work/wheels" "$ROOT"
"$PY" -m pip download -q --disable-pip-version-check --only-binary=:all: \
  -d "$work/wheels" -r "$work/wheels/requirements.txt"
tar -C "$work" --sort=name --mtime=@315532800 --owner=0 --group=0 --numeric-owner \
  -cf "$OUT/wheelhouse.tar.tmp" wheels
mv -f "$OUT/wheelhouse.tar.tmp" "$OUT/wheelhouse.tar"
echo "$build_id" > "$OUT/BUILD_ID"
echo "build-wheelhouse: $OUT/wheelhouse.tar ($(ls "$work/wheels" | grep -c '\.whl$') wheels, $build_id) in $((SECONDS - start)) s"
