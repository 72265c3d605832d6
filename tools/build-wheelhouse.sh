#!/usr/bin/env bash
# Builds the collector's offline wheelhouse on the controller: a wheel of this repository
# (plantctl, installed on gateways without its own dependencies) and the wheels of the collector's
# dependencies (pyproject's `collector` extra and everything they need), pinned as installed from
# requirements.lock. The `collector` Ansible role ships it to gateways, which install it with
# `pip --no-index`: gateways never reach a package index.
#
# Usage: tools/build-wheelhouse.sh [OUT]        (default OUT: .state/wheelhouse)
#        DEPS_DIR=... (default .state/wheelhouse-deps) caches the downloaded wheels
# Writes OUT/wheelhouse.tar (wheels/ + wheels/requirements.txt) and OUT/BUILD_ID, a hash of the
# inputs (sources, pyproject.toml, requirements.lock); skipped when BUILD_ID is unchanged.
# Only the dependency wheels (and the build backend, setuptools) come from the package index,
# once per requirements.lock, into DEPS_DIR/<hash>/ (make setup does this); the plantctl wheel is
# then built offline from them, so a changed source tree never needs the network.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/.state/wheelhouse}"
PY="${PY:-$ROOT/.venv/bin/python}"
DEPS_DIR="${DEPS_DIR:-$ROOT/.state/wheelhouse-deps}"
PIP=("$PY" -m pip --disable-pip-version-check -q)

hash_of() { (cd "$ROOT" && xargs sha256sum | sha256sum | cut -c1-16); }
deps_id=$(printf '%s\n' pyproject.toml requirements.lock | hash_of)
build_id=$(cd "$ROOT" && { find src/plantctl -type f \( -name '*.py' -o -name '*.typed' \) | LC_ALL=C sort; echo pyproject.toml; echo requirements.lock; } | hash_of)
if [[ -f "$OUT/BUILD_ID" && -f "$OUT/wheelhouse.tar" && "$(cat "$OUT/BUILD_ID")" == "$build_id" ]]; then
  echo "build-wheelhouse: $OUT is current ($build_id)"
  exit 0
fi
start=$SECONDS
mkdir -p "$OUT"
deps="$DEPS_DIR/$deps_id"

if [[ ! -f "$deps/.complete" ]]; then
  rm -rf "$DEPS_DIR"
  mkdir -p "$deps/backend"
  # The collector's dependency closure, pinned as installed from requirements.lock.
  "$PY" - "$ROOT/pyproject.toml" > "$deps/requirements.txt" <<'PYEOF'
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
  build_req=$("$PY" -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' "$ROOT/pyproject.toml")
  "${PIP[@]}" download --only-binary=:all: -d "$deps" -r "$deps/requirements.txt"
  # shellcheck disable=SC2086
  "${PIP[@]}" download --only-binary=:all: -d "$deps/backend" $build_req
  touch "$deps/.complete"
  echo "build-wheelhouse: dependency wheels for $deps_id downloaded"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/wheels"
# Offline: the isolated build environment gets setuptools from the downloaded backend wheels.
SOURCE_DATE_EPOCH=315532800 PIP_FIND_LINKS="$deps/backend" "${PIP[@]}" wheel --no-index \
  --no-deps -w "$work/wheels" "$ROOT"
cp "$deps"/*.whl "$deps/requirements.txt" "$work/wheels/"
tar -C "$work" --sort=name --mtime=@315532800 --owner=0 --group=0 --numeric-owner \
  -cf "$OUT/wheelhouse.tar.tmp" wheels
mv -f "$OUT/wheelhouse.tar.tmp" "$OUT/wheelhouse.tar"
echo "$build_id" > "$OUT/BUILD_ID"
echo "build-wheelhouse: $OUT/wheelhouse.tar ($(ls "$work/wheels" | grep -c '\.whl$') wheels, $build_id) in $((SECONDS - start)) s"
