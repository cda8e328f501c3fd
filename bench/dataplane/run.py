#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the dataplane micro-benchmarks and prints the table for docs/performance.md.

Each round waits for a quiet host (the whole machine under --max-busy of a core for 3 s in a
row), then runs mac_table_bench and forwarder_bench once each with 5 repetitions. Rounds
alternate the two programs; the table gives, per benchmark, the median and min-max over every
repetition of every round of the per-item CPU time.

Usage: bench/dataplane/run.py [--build-dir build] [--rounds 3] [--min-time 0.5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAMS = ["mac_table_bench", "forwarder_bench"]


def busy_cores(interval_s: float = 1.0) -> float:
    """Cores the whole machine kept busy over the interval, from /proc/stat."""
    def sample():
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    total0, idle0 = sample()
    time.sleep(interval_s)
    total1, idle1 = sample()
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    return ((total1 - total0) - (idle1 - idle0)) / (ticks_per_s * interval_s)


def wait_for_quiet(max_busy: float, timeout_s: float) -> float:
    """Waits for 3 quiet seconds in a row; returns the last busy figure."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    busy = 0.0
    while quiet < 3:
        busy = busy_cores()
        quiet = quiet + 1 if busy <= max_busy else 0
        if quiet < 3 and time.monotonic() > deadline:
            print(f"  host still busy ({busy:.2f} cores) after {timeout_s:.0f} s; running anyway",
                  file=sys.stderr)
            break
    return busy


def run(program: str, build_dir: str, min_time: float) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [os.path.join(build_dir, "bench", "dataplane", program),
                   "--benchmark_repetitions=5", "--benchmark_display_aggregates_only=true",
                   f"--benchmark_min_time={min_time}",
                   f"--benchmark_out={out.name}", "--benchmark_out_format=json"]
        print("  " + " ".join(command), file=sys.stderr)
        subprocess.run(command, check=True, stdout=sys.stderr)
        return json.load(open(out.name))["benchmarks"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--max-busy", type=float, default=0.1,
                        help="cores the host may use while counted as quiet (0.1)")
    parser.add_argument("--quiet-wait", type=float, default=300)
    args = parser.parse_args()

    ns_per_item: dict[str, list[float]] = {}
    for round_index in range(args.rounds):
        order = PROGRAMS if round_index % 2 == 0 else PROGRAMS[::-1]
        for program in order:
            busy = wait_for_quiet(args.max_busy, args.quiet_wait)
            print(f"round {round_index + 1}: {program} (host busy {busy:.2f} cores)",
                  file=sys.stderr)
            for result in run(program, args.build_dir, args.min_time):
                if result.get("run_type") != "iteration" or "error_occurred" in result:
                    continue
                per_item = result.get("per_key", result.get("per_packet"))
                ns_per_item.setdefault(result["run_name"], []).append(per_item * 1e9)

    print("| Benchmark | ns per key / packet, median | min-max | runs |")
    print("|---|---|---|---|")
    for name, values in ns_per_item.items():
        print(f"| `{name}` | {statistics.median(values):.1f} | "
              f"{min(values):.1f}-{max(values):.1f} | {len(values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
