#!/usr/bin/env bash
# scripts/lib.sh - shell helpers shared by the project's scripts. Source it
# (`. scripts/lib.sh`), or run a helper through it from another language:
#   scripts/lib.sh built_binary graphmalw release
#
#   cargo_target_dir          where cargo puts this repository's build output,
#                             as `cargo metadata` says: CARGO_TARGET_DIR, a
#                             build.target-dir setting, or target/
#   built_binary NAME PROFILE the path of binary NAME built with PROFILE
#                             (release, or dev/debug: `cargo build` without
#                             --release); it is not built here

_lib_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)

cargo_target_dir() {
  local meta
  meta=$(cd "$_lib_root" && cargo metadata --format-version 1 --no-deps) || {
    echo "scripts/lib.sh: cargo metadata failed" >&2
    return 1
  }
  printf '%s' "$meta" | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

built_binary() {
  local name=${1:?built_binary NAME PROFILE} profile=${2:?built_binary NAME PROFILE} dir
  case "$profile" in
    dev | debug) profile=debug ;;
  esac
  dir=$(cargo_target_dir) || return 1
  printf '%s/%s/%s\n' "$dir" "$profile" "$name"
}

# Run directly: the helper named by the first argument.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    cargo_target_dir | built_binary) "$@" ;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
fi
