#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets with clang and runs each for a bounded time from its seed
# corpus (tests/fuzz/corpus/<target>/). Prints per target: executions, executions per second,
# corpus size, result; ends with "fuzz: N passed, N failed" and exits non-zero if any target
# crashed, broke an invariant, leaked, timed out or could not be built.
#
# Usage: scripts/fuzz.sh [--seconds S] [--build-dir DIR] [--build-only | --no-build] [TARGET...]
#   --seconds S     run time per target (default $DPBRIDGE_FUZZ_SECONDS, else 60)
#   --build-dir D   clang build directory (default build-fuzz)
#   --build-only    configure and build, run nothing
#   --no-build      run what is built (meson test uses this)
#   TARGET          frame_fuzzer, offload_fuzzer, mac_parse_fuzzer, control_protocol_fuzzer
#                   (default: all)
# New inputs go to DIR/fuzz-work/TARGET, crashes to DIR/fuzz-artifacts/TARGET/; the seed corpus
# is never written. To add what a long run found to the seeds (keep them small):
#   DIR/tests/fuzz/TARGET -merge=1 tests/fuzz/corpus/TARGET DIR/fuzz-work/TARGET
set -uo pipefail

cd "$(dirname "$0")/.."

seconds=${DPBRIDGE_FUZZ_SECONDS:-60}
build_dir=build-fuzz
build=1
run=1
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift ;;
    --build-only) run=0 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]})) || targets=(frame_fuzzer offload_fuzzer mac_parse_fuzzer control_protocol_fuzzer)
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seconds must be a whole number" >&2; exit 2; }

if ((build)); then
  if ! command -v clang++ >/dev/null; then
    echo "fuzz.sh: clang++ is missing: apt-get install -y clang" >&2
    exit 1
  fi
  options=(-Dfuzzers=true -Dtests=false -Dbenchmarks=false -Db_lundef=false
           -Dbuildtype=debugoptimized)
  if [[ -f $build_dir/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "${options[@]}" "$build_dir" >/dev/null || exit 1
  else
    CXX=clang++ meson setup "${options[@]}" "$build_dir" || exit 1
  fi
  ninja -C "$build_dir" -j "${NINJA_JOBS:-2}" "${targets[@]/#/tests/fuzz/}" || {
    echo "fuzz: 0 passed, ${#targets[@]} failed (build)"
    exit 1
  }
fi
((run)) || exit 0

passed=0
failed=0
for target in "${targets[@]}"; do
  exe=$build_dir/tests/fuzz/$target
  seeds=tests/fuzz/corpus/$target
  work=$build_dir/fuzz-work/$target
  artifacts=$build_dir/fuzz-artifacts/$target/
  log=$build_dir/fuzz-logs/$target.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  if [[ ! -x $exe || ! -d $seeds ]]; then
    echo "fuzz.sh: $target: missing $exe or $seeds" >&2
    failed=$((failed + 1))
    continue
  fi

  # -timeout: one input may take at most 10 s; the outer timeout bounds a hung process.
  timeout --kill-after=10 $((seconds + 60)) "$exe" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$work" "$seeds" > "$log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1)
  if ((rc == 0)); then
    passed=$((passed + 1))
    verdict=ok
  else
    failed=$((failed + 1))
    verdict="FAILED (exit $rc; log $log, inputs in $artifacts)"
    grep -m 20 -E 'ERROR|invariant|SUMMARY|==[0-9]+==|runtime error|Assertion' "$log" >&2
  fi
  printf '%s: %s s, %s executions, %s/s, %s (seeds %s files), %s\n' "$target" "$seconds" \
    "${execs:-?}" "${per_s:-?}" "${corpus:-corp: ?}" "$(find "$seeds" -type f | wc -l)" \
    "$verdict"
done

echo "fuzz: $passed passed, $failed failed"
((failed == 0))
