# SPDX-License-Identifier: Apache-2.0
"""Side-by-side system benchmark (issue 6): Mpps forwarded between two vhost-user ports by
testpmd io, OVS-DPDK and dpbridge, one PMD core each, with the same generator.

Design: the switches alternate round by round (the order reverses every round) so that slow
drifts of the host hit all of them alike. In each window the generator's received-frame
counters are sampled every second; a sample is dropped when processes other than the switch
and the generator used more than --max-other-cpu of a core during it. Medians and min-max
are taken over the kept 1 s samples of all rounds. The switch's cycles per packet come from
its own counters; the generator's busy share says whether the generator was the bottleneck.

Run it through bench/system/run.sh, whose trap is the backstop for cleanup.

--flows 1,1024,65536 switches to the mac_flowgen generator and adds the many-flow cases:
one table row per (frame size, MAC pairs, switch).
"""

import argparse
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from generator import GENERATORS
from switches import SWITCHES, DpbridgeSwitch
from testpmd import RunContext, remove_dpdk_files

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GENERATOR_BOUND_SHARE = 0.90


class CpuMeter:
    """CPU used by processes other than ours, per interval, in cores (from /proc)."""

    def __init__(self, pids: list[int]):
        self.pids = pids + [os.getpid()]
        self.last = self._read()

    def sample(self) -> float:
        """Cores used by other processes since the previous call."""
        now = self._read()
        (t0, all0, ours0), (t1, all1, ours1) = self.last, now
        self.last = now
        return max(0.0, ((all1 - all0) - (ours1 - ours0)) / CLOCK_TICKS / max(t1 - t0, 1e-3))

    def _read(self) -> tuple[float, int, int]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        busy_all = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
        ours = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    parts = stat.read().rsplit(")", 1)[1].split()
                ours += int(parts[11]) + int(parts[12])  # utime, stime
            except (OSError, IndexError):
                pass
        return time.monotonic(), busy_all, ours


def wait_for_quiet(pids: list[int], max_other: float, timeout_s: float, log,
                   quiet_seconds: int = 3) -> None:
    """Waits, up to timeout_s, for quiet_seconds in a row in which processes other than pids
    stay under max_other cores."""
    meter = CpuMeter(pids)
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < quiet_seconds:
        time.sleep(1)
        other = meter.sample()
        quiet = quiet + 1 if other <= max_other else 0
        if quiet < quiet_seconds and time.monotonic() > deadline:
            log(f"  host still busy after {timeout_s:.0f} s (others use {other:.2f} cores); "
                "measuring anyway")
            return


def measure(switch, gen, window_s: int, max_other: float) -> dict:
    """One window: per-second Mpps samples, and the switch's and generator's busy cycles."""
    gen.clear_stats()
    switch.clear_stats()
    meter = CpuMeter(switch.pids() + gen.pids())
    start = time.monotonic()
    last_time, last_rx = start, gen.rx_packets()
    samples = []  # (Mpps, other cores)
    for second in range(1, window_s + 1):
        time.sleep(max(0.0, start + second - time.monotonic()))
        now, rx = time.monotonic(), gen.rx_packets()
        samples.append(((rx - last_rx) / (now - last_time) / 1e6, meter.sample()))
        last_time, last_rx = now, rx
    switch_busy, switch_packets = switch.cycles()
    gen_busy, gen_packets, mhz = gen.busy_cycles()
    elapsed_cycles = (time.monotonic() - start) * mhz * 1e6
    return {
        "all": [mpps for mpps, _ in samples],
        "kept": [mpps for mpps, other in samples if other <= max_other],
        "other": [other for _, other in samples],
        "switch_cpp": switch_busy / switch_packets if switch_packets else None,
        "switch_busy": switch_busy / elapsed_cycles if elapsed_cycles else None,
        "gen_cpp": gen_busy / gen_packets if gen_packets else None,
        "gen_busy": gen_busy / elapsed_cycles if elapsed_cycles else None,
    }


def process_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parts = stat.read().rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])
        except (OSError, IndexError):
            pass
    return total / CLOCK_TICKS


def measure_idle(ctx, switch, sockets, args, idle_results, log) -> None:
    """CPU of the switch with its ports up (a generator connected) and no traffic."""
    gen = GENERATORS[args.generator](ctx, sockets, 64, main_core=args.switch_core,
                                     fwd_core=args.gen_core)
    try:
        time.sleep(3)  # links up, start-up work done
        before, start = process_seconds(switch.pids()), time.monotonic()
        time.sleep(args.idle)
        cores = (process_seconds(switch.pids()) - before) / (time.monotonic() - start)
    finally:
        gen.stop()
        remove_dpdk_files(gen.prefix)
    idle_results.setdefault(switch.name, []).append(cores)
    log(f"  {switch.name:<11} idle: {cores:.1%} of a core")


def run_switch(ctx, switch, args, results, log) -> None:
    """Starts one switch, runs a window per frame size with a fresh generator, stops it."""
    # Wait before starting anything: a waiting switch and generator would burn both cores.
    wait_for_quiet([], args.max_other_cpu, args.quiet_wait, log)
    try:
        sockets = switch.start()
        if args.idle:
            measure_idle(ctx, switch, sockets, args, results.setdefault("idle", {}), log)
        for size, flows in workloads(args):
            if flows is None:
                gen = GENERATORS[args.generator](ctx, sockets, size, main_core=args.switch_core,
                                                 fwd_core=args.gen_core)
            else:
                gen = GENERATORS["flowgen"](ctx, sockets, size, main_core=args.switch_core,
                                            fwd_core=args.gen_core, pairs=flows,
                                            build_dir=Path(args.build_dir))
            try:
                gen.prime()
                time.sleep(args.warmup)
                window = measure(switch, gen, args.window, args.max_other_cpu)
            finally:
                gen.stop()
                remove_dpdk_files(gen.prefix)
            results.setdefault((switch.name, size, flows), []).append(window)
            log(f"  {switch.name:<11} {size:>5} B {flows or 1:>6} pairs: median "
                f"{statistics.median(window['all']):.2f} Mpps, "
                f"{len(window['kept'])}/{len(window['all'])} samples kept (others used "
                f"{' '.join(f'{x:.2f}' for x in window['other'])} cores)")
    finally:
        switch.stop()
        remove_dpdk_files(switch.prefix)


def workloads(args) -> list[tuple[int, int | None]]:
    """(frame size, MAC pairs) to measure; pairs None means the default two-MAC generator."""
    return [(size, flows) for size in args.sizes for flows in (args.flows or [None])]


def summarise(results: dict, args, skipped: dict) -> str:
    """The markdown report: machine, command, one row per (frame size, MAC pairs, switch)."""
    rows = {}
    idle = results.pop("idle", {})
    for key, windows in results.items():
        kept = [x for w in windows for x in w["kept"]]
        every = [x for w in windows for x in w["all"]]
        noisy = len(kept) < 3
        samples = every if noisy else kept
        rows[key] = {
            "median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "kept": f"{len(kept)}/{len(every)}" + (" (all used: host busy)" if noisy else ""),
            "switch_cpp": median_of(w["switch_cpp"] for w in windows),
            "switch_busy": median_of(w["switch_busy"] for w in windows),
            "gen_cpp": median_of(w["gen_cpp"] for w in windows),
            "gen_busy": median_of(w["gen_busy"] for w in windows),
        }
    lines = ["| Frame | MAC pairs | Switch | Mpps median | min-max | 1 s samples kept "
             "| switch cycles/pkt | switch busy | generator busy (cycles/pkt) | x OVS "
             "| x testpmd io | bottleneck |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, flows in workloads(args):
        for name in args.switches:
            row = rows.get((name, size, flows))
            if not row:
                continue
            lines.append(
                f"| {size} B | {flows or 1} | {SWITCHES[name].label} | {row['median']:.2f} "
                f"| {row['min']:.2f}-{row['max']:.2f} | {row['kept']} "
                f"| {fmt(row['switch_cpp'], '.0f')} | {fmt(row['switch_busy'], '.0%')} "
                f"| {fmt(row['gen_busy'], '.0%')} ({fmt(row['gen_cpp'], '.0f')}) "
                f"| {ratio(row, rows.get(('ovs', size, flows)))} "
                f"| {ratio(row, rows.get(('testpmd-io', size, flows)))} | {bottleneck(row)} |")
    if idle:
        lines += ["", "| Switch | idle CPU, ports up, no traffic (median, min-max) |",
                  "|---|---|"]
        lines += [f"| {SWITCHES[name].label} | {statistics.median(v):.1%} "
                  f"({min(v):.1%}-{max(v):.1%}) |" for name, v in idle.items()]
    notes = [f"- {name}: skipped, {reason}" for name, reason in skipped.items()]
    return "\n".join(header(args) + [""] + lines + [""] + notes + [""] + legend(args))


def header(args) -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "unknown CPU")
    return [
        f"System benchmark, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}: "
        f"{os.cpu_count()} x {cpu}, Linux {platform.release()}, "
        f"DPDK {package_version('dpdk')}, OVS {package_version('openvswitch-switch-dpdk')}.",
        "",
        f"Command: `bench/system/run.sh {' '.join(args.argv)}`; window {args.window} s, "
        f"{args.rounds} round(s), generator `{'mac_flowgen' if args.flows else args.generator}` on core {args.gen_core}, "
        f"switch PMD on core {args.switch_core}.",
    ]


def legend(args) -> list[str]:
    return [
        "Mpps: frames forwarded by the switch, both directions, counted as the generator's "
        "received frames; median and min-max of 1 s samples over all rounds. A sample is "
        f"dropped when other processes used more than {args.max_other_cpu:.0%} of a core. "
        "Busy: share of the core's cycles spent in polls that found packets (testpmd "
        "--record-core-cycles, OVS processing cycles, dpbridge busy cycles). Bottleneck: "
        f"generator when its busy share is at least {GENERATOR_BOUND_SHARE:.0%}.",
    ]


def bottleneck(row) -> str:
    if row["gen_busy"] is not None and row["gen_busy"] >= GENERATOR_BOUND_SHARE:
        return "**generator**"
    if row["switch_busy"] is not None and row["switch_busy"] >= GENERATOR_BOUND_SHARE:
        return "switch"
    return "neither core saturated"


def ratio(row, reference) -> str:
    return f"{row['median'] / reference['median']:.2f}" if reference else "-"


def median_of(values) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def package_version(name: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                          text=True)
    return done.stdout.strip() or "not installed"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/system/run.sh", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=20, help="seconds per window (20)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    parser.add_argument("--sizes", default="64,1518", help="frame sizes, bytes (64,1518)")
    parser.add_argument("--switches", default="testpmd-io,ovs,dpbridge",
                        help="comma-separated, from: " + ",".join(SWITCHES))
    parser.add_argument("--generator", default="testpmd-mac", choices=sorted(GENERATORS))
    parser.add_argument("--flows", default="",
                        help="MAC pairs, e.g. 1,1024,65536: use mac_flowgen (default: testpmd "
                        "mac, two MACs)")
    parser.add_argument("--idle", type=float, default=10,
                        help="seconds of idle-CPU measurement per switch and round; 0: none (10)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before a window (3)")
    parser.add_argument("--switch-core", type=int, default=1, help="switch PMD core (1)")
    parser.add_argument("--gen-core", type=int, default=0, help="generator forwarding core (0)")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="seconds to wait for a quiet host before a switch (120)")
    parser.add_argument("--max-other-cpu", type=float, default=0.05,
                        help="drop a 1 s sample when others used more of a core (0.05)")
    parser.add_argument("--build-dir", default="build", help="where dpbridge is built (build)")
    parser.add_argument("--out", help="results file (default build-bench/system-<time>.md)")
    parser.add_argument("--run-dir", required=True, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = argv[:-2] if argv[-2:-1] == ["--run-dir"] else argv
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.flows = [int(f) for f in args.flows.split(",") if f]
    args.switches = [s for s in args.switches.split(",") if s]
    unknown = [s for s in args.switches if s not in SWITCHES]
    if unknown:
        parser.error(f"unknown switch {unknown}; choose from {list(SWITCHES)}")
    if args.window < 2 or args.rounds < 1:
        parser.error("--window must be at least 2 s and --rounds at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = RunContext(Path(args.run_dir))
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    results, skipped = {}, {}
    try:
        for round_index in range(args.rounds):
            order = args.switches if round_index % 2 == 0 else args.switches[::-1]
            log(f"round {round_index + 1}/{args.rounds}: {', '.join(order)}")
            for name in order:
                if name == "dpbridge":
                    switch = DpbridgeSwitch(ctx, args.switch_core ^ 1, args.switch_core,
                                            Path(args.build_dir))
                else:
                    switch = SWITCHES[name](ctx, args.switch_core ^ 1, args.switch_core)
                reason = switch.unavailable_reason()
                if reason:
                    skipped[name] = reason
                    log(f"  {name}: skipped, {reason}")
                    continue
                run_switch(ctx, switch, args, results, log)
    finally:
        ctx.cleanup()
    if not results:
        log("no switch was measured")
        return 1
    report = summarise(results, args, skipped)
    out = Path(args.out or f"build-bench/system-{time.strftime('%Y%m%d-%H%M%S')}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    print(report)
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
