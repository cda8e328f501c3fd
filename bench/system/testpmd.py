# SPDX-License-Identifier: Apache-2.0
"""An interactive dpdk-testpmd process, driven through its stdin, and the run's cleanup list.

testpmd is both the traffic generator and the "io" upper-bound switch of the system benchmark.
Commands go to its stdin; its output (line-buffered through `stdbuf -oL`, or it would appear
only at exit) goes to a log file, and a command's answer is the log text between the command
and the next `testpmd> ` prompt.

Thread-safety: none; the benchmark drives everything from one thread.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

PROMPT = b"testpmd> "
HUGEPAGE_DIR = Path("/dev/hugepages")
DPDK_RUN_DIR = Path("/var/run/dpdk")


class RunContext:
    """What one benchmark run owns: its directory, the processes it started, its EAL prefixes.

    The pids and file prefixes are also written to files in the run directory so that
    run.sh's trap can clean up even if Python itself is killed.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.run_id = run_dir.name.rsplit(".", 1)[-1]
        self.processes: list[subprocess.Popen] = []
        self.prefixes: list[str] = []

    def file_prefix(self, role: str) -> str:
        """A DPDK --file-prefix unique to this run and role; its files are removed at exit."""
        prefix = f"dpbsb-{self.run_id}-{role}"
        if prefix in self.prefixes:
            return prefix
        self.prefixes.append(prefix)
        with open(self.run_dir / "prefixes", "a") as listing:
            listing.write(prefix + "\n")
        return prefix

    def spawn(self, cmd: list[str], log_name: str, **kwargs) -> subprocess.Popen:
        """Starts cmd with output to run_dir/log_name and records it for cleanup."""
        log = open(self.run_dir / log_name, "ab")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        log.close()
        self.processes.append(proc)
        with open(self.run_dir / "pids", "a") as listing:
            listing.write(f"{proc.pid}\n")
        return proc

    def cleanup(self) -> None:
        """Ends every process still running (TERM, then KILL) and removes DPDK runtime files."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for prefix in self.prefixes:
            remove_dpdk_files(prefix)


def remove_dpdk_files(prefix: str) -> None:
    """Removes the hugepage files and runtime directory DPDK left for --file-prefix=prefix."""
    for path in HUGEPAGE_DIR.glob(prefix + "map_*"):
        path.unlink(missing_ok=True)
    runtime = DPDK_RUN_DIR / prefix
    if runtime.is_dir():
        for path in runtime.iterdir():
            path.unlink(missing_ok=True)
        runtime.rmdir()


class Testpmd:
    """One interactive testpmd; `command()` sends a line and returns testpmd's answer."""

    def __init__(self, ctx: RunContext, name: str, eal_args: list[str], app_args: list[str]):
        self.name = name
        self.log_path = ctx.run_dir / f"{name}.log"
        cmd = ["stdbuf", "-oL", "dpdk-testpmd", *eal_args, "--", "-i", *app_args]
        with open(ctx.run_dir / f"{name}.cmd", "w") as record:
            record.write(" ".join(cmd) + "\n")
        self.proc = ctx.spawn(cmd, self.log_path.name, stdin=subprocess.PIPE)
        self._wait_for_prompt(0, timeout_s=60)

    def command(self, line: str, timeout_s: float = 10) -> str:
        """Sends one command line and returns its output (up to the next prompt)."""
        offset = self.log_path.stat().st_size
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return self._wait_for_prompt(offset, timeout_s)

    def fwd_cycles(self) -> tuple[int, int, float]:
        """Busy cycles, packets and TSC MHz since `clear fwd stats all` (--record-core-cycles)."""
        text = self.command("show fwd stats all")
        match = re.search(r"total cycles=(\d+) / total \w+ packets=(\d+)\) at (\d+) MHz", text)
        if not match:
            return 0, 0, 0.0
        return int(match[1]), int(match[2]), float(match[3])

    def port_rx_packets(self) -> int:
        """Sum of RX-packets over all ports, from `show port stats all`."""
        text = self.command("show port stats all")
        return sum(int(n) for n in re.findall(r"RX-packets:\s+(\d+)\s+RX-missed", text))

    def stop(self) -> None:
        """Asks testpmd to quit; RunContext.cleanup() kills it if it does not."""
        if self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write(b"stop\nquit\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()

    def _wait_for_prompt(self, offset: int, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read()
            end = text.find(PROMPT)
            if end >= 0:
                return text[:end].decode(errors="replace")
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: testpmd exited ({self.proc.returncode}); "
                                   f"last output:\n{tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no prompt within {timeout_s} s; "
                                   f"last output:\n{tail(self.log_path)}")
            time.sleep(0.02)


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with open(path, "rb") as log:
            return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return "(no log)"


def wait_for_paths(paths: list[Path], timeout_s: float, what: str) -> None:
    """Waits until every path exists (vhost-user sockets), or raises."""
    deadline = time.monotonic() + timeout_s
    while not all(os.path.exists(p) for p in paths):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: sockets {[str(p) for p in paths]} not created")
        time.sleep(0.1)
