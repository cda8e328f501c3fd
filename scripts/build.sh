#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures (or reconfigures) and builds dpbridge with meson + ninja.
#
# Usage: scripts/build.sh [--sanitize] [BUILD_DIR]
#   default:     release build (-O3, NDEBUG) in BUILD_DIR, default "build"
#   --sanitize:  ASan + UBSan build of the tests (asserts on, no benchmarks) in BUILD_DIR,
#                default "build-asan"
# NINJA_JOBS (default 2) sets ninja's parallelism.
set -euo pipefail

cd "$(dirname "$0")/.."

sanitize=0
build_dir=""
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    *) build_dir=$arg ;;
  esac
done

if ((sanitize)); then
  build_dir=${build_dir:-build-asan}
  # debugoptimized keeps asserts and frames for readable sanitizer reports; b_lundef=false
  # because the sanitizer runtimes resolve symbols at load time.
  options=(-Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
           -Dbenchmarks=false)
else
  build_dir=${build_dir:-build}
  options=(-Dbuildtype=release -Doptimization=3)
fi

if [[ -f $build_dir/meson-private/coredata.dat ]]; then
  meson setup --reconfigure "${options[@]}" "$build_dir" >/dev/null
else
  meson setup "${options[@]}" "$build_dir"
fi
ninja -C "$build_dir" -j "${NINJA_JOBS:-2}"
