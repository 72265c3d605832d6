# shellcheck shell=bash
# Sourced by tools/install-go-tools.sh and tools/install-pulumi.sh: a per-machine cache of the tool
# binaries they build, kept outside the repository so that a fresh clone on the same machine (CI
# runs `make test` in one) copies them into its empty .tools/bin instead of rebuilding for minutes:
#
#   ${PLANTCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plantctl/tools}/<tool>-<version>/<binary>
#
# The callers verify a binary after copying it (build info and version output) and rebuild when
# that fails. PLANTCTL_TOOLS_CACHE=off disables the cache. Writes are atomic (copy, then rename),
# so concurrent setups in several clones are safe.

TOOL_CACHE="${PLANTCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plantctl/tools}"

# tool_cache_get TOOL VERSION BINARY DEST: copy the cached binary to DEST; false when not cached.
tool_cache_get() {
  local src="$TOOL_CACHE/$1-$2/$3" tmp="$4.cache-tmp.$$"
  [[ "$TOOL_CACHE" != off && -x "$src" ]] || return 1
  if cp --reflink=auto "$src" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$4"; then
    return 0
  fi
  rm -f "$tmp"
  return 1
}

# tool_cache_has TOOL VERSION BINARY: true when that binary is cached.
tool_cache_has() {
  [[ "$TOOL_CACHE" == off || -x "$TOOL_CACHE/$1-$2/$3" ]]
}

# tool_cache_put TOOL VERSION BINARY SRC: store SRC in the cache (a failure only warns).
tool_cache_put() {
  [[ "$TOOL_CACHE" != off ]] || return 0
  local dir="$TOOL_CACHE/$1-$2"
  local tmp="$dir/.$3.tmp.$$"
  if mkdir -p "$dir" && cp --reflink=auto "$4" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$dir/$3"; then
    return 0
  fi
  rm -f "$tmp"
  echo "tool-cache: WARNING: could not cache $4 in $dir (a fresh clone will rebuild it)" >&2
  return 0
}

# tool_cache_drop TOOL VERSION BINARY: remove a cached binary that failed verification.
tool_cache_drop() {
  [[ "$TOOL_CACHE" != off ]] || return 0
  rm -f "$TOOL_CACHE/$1-$2/$3"
}
