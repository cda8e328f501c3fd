#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every dpbridge test: set-up, release build, all meson suites, then the unit suite and
# the integration tests of suite sanitize (in-process ones and those that run the daemon)
# again under ASan + UBSan, then each libFuzzer target for a bounded time (scripts/fuzz.sh,
# suite fuzz). Prints the failing tests with the end of their logs and ends with one line
# "N passed, N failed" (", N skipped" added when meson skipped some). Exits non-zero when
# anything failed or no test ran.
#
# Usage: scripts/test.sh [--sanitize | --no-sanitize] [--time-limit S]
#   --sanitize      run the ASan + UBSan suites and the fuzzers (the default)
#   --no-sanitize   skip both (release build and all suites only)
#   --time-limit S  global bound for set-up, builds and tests (default 4800 s; CI allows 5400)
# Environment: BUILD_DIR (default build), ASAN_BUILD_DIR (default build-asan).
#
# Counting: each meson test of each run is one item; the sanitizer run adds its unit tests a
# second time, prefixed "asan:". A set-up or build step that fails counts as one failed item,
# and a test that meson listed but never finished (time limit) counts as failed.
# Limitation: the sanitizer run costs a second build (a few minutes on 2 cores); it is on by
# default because the whole run stays well inside CI's 90 minutes.
set -uo pipefail

cd "$(dirname "$0")/.."

sanitize=1
time_limit_s=4800
while (($#)); do
  case "$1" in
    --sanitize) sanitize=1 ;;
    --no-sanitize) sanitize=0 ;;
    --time-limit) time_limit_s=${2:?--time-limit needs seconds}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

build_dir=${BUILD_DIR:-build}
asan_build_dir=${ASAN_BUILD_DIR:-build-asan}
deadline_s=$((SECONDS + time_limit_s))
work=$(mktemp -d /tmp/dpbridge-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
: > "$work/step_failures"

# Runs a command bounded by what is left of the global time limit.
bounded() {
  local left_s=$((deadline_s - SECONDS))
  ((left_s > 0)) || return 124
  timeout --kill-after=20 "$left_s" "$@"
}

step_failed() {  # name, reason, exit status
  local reason=$2
  (($3 == 124 || $3 == 137)) && reason="$reason (global time limit reached)"
  printf '%s\t%s\n' "$1" "$reason" >> "$work/step_failures"
}

# Runs meson test in build dir $2 with extra args; leaves $work/$1.json and $work/$1.list.
run_suites() {
  local label=$1 dir=$2
  shift 2
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --no-rebuild --list "$@" 2>/dev/null > "$work/$label.list" || true
  echo "== test.sh: meson test ($label) =="
  bounded meson test -C "$dir" --no-rebuild "$@"
  local rc=$?
  ((rc == 124 || rc == 137)) && echo "test.sh: $label: global time limit reached" >&2
  cp "$dir/meson-logs/testlog.json" "$work/$label.json" 2>/dev/null || : > "$work/$label.json"
}

echo "== test.sh: set-up =="
bounded bash scripts/setup.sh || step_failed "setup" "scripts/setup.sh failed" $?

echo "== test.sh: release build ($build_dir) =="
bounded bash scripts/build.sh "$build_dir"
rc=$?
if ((rc == 0)); then
  run_suites release "$build_dir"
else
  step_failed "build ($build_dir)" "release build failed" $rc
fi

if ((sanitize)); then
  echo "== test.sh: ASan + UBSan build ($asan_build_dir) =="
  bounded bash scripts/build.sh --sanitize "$asan_build_dir"
  rc=$?
  if ((rc == 0)); then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
    run_suites asan "$asan_build_dir" --suite unit --suite sanitize --timeout-multiplier 3
  else
    step_failed "build ($asan_build_dir)" "sanitizer build failed" $rc
  fi

  # libFuzzer targets (clang, ASan + UBSan), each for DPBRIDGE_FUZZ_SECONDS (60) from the
  # seed corpus in tests/fuzz/corpus.
  echo "== test.sh: fuzz build (build-fuzz) =="
  bounded bash scripts/fuzz.sh --build-only
  rc=$?
  if ((rc == 0)); then
    run_suites fuzz build-fuzz --suite fuzz
  else
    step_failed "build (build-fuzz)" "clang fuzz build failed" $rc
  fi
fi

python3 - "$work" <<'EOF'
import json, os, sys

work = sys.argv[1]
passed = failed = skipped = 0
failures = []  # (name, result, last log lines)

for label in ("release", "asan", "fuzz"):
    log_path = os.path.join(work, label + ".json")
    if not os.path.exists(log_path):
        continue
    prefix = "" if label == "release" else label + ": "
    seen = set()
    with open(log_path) as log:
        for line in log:
            try:
                test = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short when the time limit killed meson
            seen.add(test["name"])
            result = test["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                output = (test.get("stdout") or "") + (test.get("stderr") or "")
                tail = output.splitlines()[-25:] or ["(no output)"]
                failures.append((prefix + test["name"], result, tail))
    list_path = os.path.join(work, label + ".list")
    with open(list_path) as listed:
        for name in (n.strip() for n in listed):
            if name and name not in seen:
                failed += 1
                failures.append((prefix + name, "NOT RUN", ["did not finish (time limit?)"]))

with open(os.path.join(work, "step_failures")) as steps:
    for line in steps:
        name, reason = line.rstrip("\n").split("\t", 1)
        failed += 1
        failures.append((name, "FAIL", [reason]))

if failures:
    print("\n== failing ==")
    for name, result, lines in failures:
        print(f"FAILED {name} [{result}]")
        for text in lines:
            print("    " + text)
if passed + failed == 0:
    print("test.sh: no tests ran")
summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
sys.exit(1 if failed or passed + failed == 0 else 0)
EOF
