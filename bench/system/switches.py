# SPDX-License-Identifier: Apache-2.0
"""The switches under test: testpmd io, OVS-DPDK and dpbridge, each with two vhost-user
server ports and one PMD core.

Every switch offers the same small interface: start() returns its two vhost-user socket
paths; clear_stats() marks the start of a measurement window; cycles() returns the busy
cycles and packets its PMD core spent since then, from the switch's own counters; pids()
lists its processes (for CPU accounting); stop() tears it down. RunContext.cleanup() is the
backstop that kills whatever a failed stop() left behind.

Thread-safety: none; driven from one thread.
"""

import json
import sys
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from testpmd import RunContext, Testpmd, tail, wait_for_paths

OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class TestpmdIoSwitch:
    """testpmd `io` forwarding between two net_vhost ports: no learning, no lookup."""

    name = "testpmd-io"
    label = "testpmd io (upper bound)"

    def __init__(self, ctx: RunContext, main_core: int, pmd_core: int):
        self.ctx, self.main_core, self.pmd_core = ctx, main_core, pmd_core
        self.testpmd = None
        self.prefix = ctx.file_prefix("io")

    def unavailable_reason(self) -> str | None:
        return None if shutil.which("dpdk-testpmd") else "dpdk-testpmd not installed"

    def start(self) -> list[Path]:
        sockets = [self.ctx.run_dir / f"io{i}.sock" for i in (0, 1)]
        eal = [f"-l{self.main_core},{self.pmd_core}", f"--main-lcore={self.main_core}",
               "--no-pci", "--single-file-segments", f"--file-prefix={self.prefix}", "-m512"]
        eal += [f"--vdev=net_vhost{i},iface={s},queues=1" for i, s in enumerate(sockets)]
        app = ["--nb-cores=1", "--forward-mode=io", "--record-core-cycles", "--auto-start"]
        self.testpmd = Testpmd(self.ctx, "testpmd-io", eal, app)
        wait_for_paths(sockets, 10, self.name)
        return sockets

    def clear_stats(self) -> None:
        self.testpmd.command("clear fwd stats all")

    def cycles(self) -> tuple[int, int]:
        busy, packets, _ = self.testpmd.fwd_cycles()
        return busy, packets

    def pids(self) -> list[int]:
        return [self.testpmd.proc.pid]

    def stop(self) -> None:
        if self.testpmd:
            self.testpmd.stop()


class OvsSwitch:
    """Open vSwitch 3.1 with DPDK, run by hand in a private directory: netdev bridge, two
    dpdkvhostuser ports (OVS is the server), the default NORMAL flow, one PMD core."""

    name = "ovs"
    label = "OVS-DPDK NORMAL"

    def __init__(self, ctx: RunContext, main_core: int, pmd_core: int):
        self.ctx, self.main_core, self.pmd_core = ctx, main_core, pmd_core
        self.dir = ctx.run_dir / "ovs"
        self.bridge = f"sbbr{ctx.run_id}"[:15]
        self.env = dict(os.environ, OVS_RUNDIR=str(self.dir), OVS_LOGDIR=str(self.dir),
                        OVS_DBDIR=str(self.dir), OVS_SYSCONFDIR=str(self.dir))
        self.db_socket = f"unix:{self.dir}/db.sock"
        self.procs: list[subprocess.Popen] = []
        self.bridge_added = False
        self.prefix = ctx.file_prefix("ovs")

    def unavailable_reason(self) -> str | None:
        if not os.access(OVS_VSWITCHD, os.X_OK):
            return "openvswitch-switch-dpdk not installed"
        return None

    def start(self) -> list[Path]:
        shutil.rmtree(self.dir, ignore_errors=True)  # a fresh database every round
        self.dir.mkdir()
        self._run("ovsdb-tool", "create", f"{self.dir}/conf.db", OVS_SCHEMA)
        self.procs.append(self.ctx.spawn(
            ["ovsdb-server", f"{self.dir}/conf.db", f"--remote=punix:{self.dir}/db.sock",
             f"--pidfile={self.dir}/ovsdb-server.pid", f"--unixctl={self.dir}/ovsdb-server.ctl",
             "--no-chdir"], "ovsdb-server.log",
            env=self.env))
        wait_for_paths([self.dir / "db.sock"], 10, "ovsdb-server")
        self._vsctl("--no-wait", "init")
        self._vsctl("--no-wait", "set", "Open_vSwitch", ".",
                    "other_config:dpdk-init=true", "other_config:dpdk-socket-mem=1024",
                    f"other_config:pmd-cpu-mask={1 << self.pmd_core:#x}",
                    f'other_config:dpdk-extra="--no-pci --single-file-segments '
                    f'--file-prefix={self.prefix}"')
        self.procs.append(self.ctx.spawn(
            [OVS_VSWITCHD, self.db_socket, f"--pidfile={self.dir}/ovs-vswitchd.pid",
             f"--unixctl={self.dir}/ovs-vswitchd.ctl", "--no-chdir",
             f"--log-file={self.dir}/ovs-vswitchd.log"], "ovs-vswitchd.out",
            env=self.env))
        self._wait_dpdk_initialized(timeout_s=60)
        self._vsctl("add-br", self.bridge, "--", "set", "bridge", self.bridge,
                    "datapath_type=netdev")
        self.bridge_added = True
        for port in ("vhu0", "vhu1"):
            self._vsctl("add-port", self.bridge, port, "--", "set", "Interface", port,
                        "type=dpdkvhostuser")
        sockets = [self.dir / "vhu0", self.dir / "vhu1"]
        wait_for_paths(sockets, 10, self.name)
        return sockets

    def clear_stats(self) -> None:
        self._appctl("dpif-netdev/pmd-stats-clear")

    def cycles(self) -> tuple[int, int]:
        """Processing cycles and packets received of the PMD thread (not the main thread)."""
        text = self._appctl("dpif-netdev/pmd-stats-show")
        pmd_part = text.split("main thread")[0]
        packets = re.search(r"packets received:\s*(\d+)", pmd_part)
        busy = re.search(r"processing cycles:\s*(\d+)", pmd_part)
        if not packets or not busy:
            return 0, 0
        return int(busy[1]), int(packets[1])

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        vswitchd_alive = len(self.procs) > 1 and self.procs[1].poll() is None
        if vswitchd_alive:
            if self.bridge_added:
                self._vsctl("--if-exists", "del-br", self.bridge, check=False)
            self._appctl("exit", "--cleanup", check=False)
        if self.procs and self.procs[0].poll() is None:
            self._run("ovs-appctl", "-t", f"{self.dir}/ovsdb-server.ctl", "exit", check=False)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _wait_dpdk_initialized(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._vsctl("get", "Open_vSwitch", ".", "dpdk_initialized").strip() != "true":
            if self.procs[-1].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ovs-vswitchd: DPDK did not initialise; last log lines:\n"
                                   + tail(self.dir / "ovs-vswitchd.log"))
            time.sleep(0.5)

    def _run(self, *cmd: str, check: bool = True) -> str:
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")
        return done.stdout

    def _vsctl(self, *args: str, check: bool = True) -> str:
        return self._run("ovs-vsctl", f"--db={self.db_socket}", "--timeout=30", *args,
                         check=check)

    def _appctl(self, *args: str, check: bool = True) -> str:
        return self._run("ovs-appctl", "-t", f"{self.dir}/ovs-vswitchd.ctl", *args,
                         check=check)


class DpbridgeSwitch:
    """dpbridge with one PMD core and two vhost-user server ports, set up with dpbridgectl.

    Reads `dpbridgectl --json pmd-stats`: per PMD thread, "busy_cycles" and "packets"
    (received), summed over threads.
    Counters are read at both ends of the window and subtracted, so no clear command is
    needed.
    """

    name = "dpbridge"
    label = "dpbridge"

    def __init__(self, ctx: RunContext, main_core: int, pmd_core: int, build_dir: Path):
        self.ctx, self.main_core, self.pmd_core = ctx, main_core, pmd_core
        self.daemon = find_binary(build_dir, "dpbridge")
        self.ctl = find_binary(build_dir, "dpbridgectl")
        self.control_socket = ctx.run_dir / "dpbridge.ctl"
        self.proc = None
        self.window_start = (0, 0, 0)
        self.prefix = ctx.file_prefix("dpb")

    def unavailable_reason(self) -> str | None:
        if not self.daemon or not self.ctl:
            return "dpbridge/dpbridgectl not built (looked in the build directory)"
        return None

    def start(self) -> list[Path]:
        # A fresh state directory each start: the daemon restores saved ports, and each
        # round must begin from an empty switch.
        state_dir = Path(tempfile.mkdtemp(prefix="dpbridge-state-", dir=self.ctx.run_dir))
        cmd = [str(self.daemon), "--socket", str(self.control_socket),
               "--state-dir", str(state_dir), "--metrics", f"127.0.0.1:{free_tcp_port()}",
               "--lcores", f"{self.main_core},{self.pmd_core}", "--",
               "--no-pci", "--single-file-segments", "-m512",
               f"--file-prefix={self.prefix}"]
        self.proc = self.ctx.spawn(cmd, "dpbridge.log")
        wait_for_paths([self.control_socket], 30, "dpbridge control socket")
        sockets = [self.ctx.run_dir / f"dpb{i}.sock" for i in (0, 1)]
        for index, path in enumerate(sockets):
            self._ctl("port", "add", f"vhu{index}", "--type", "vhost-user", "--path", str(path))
        wait_for_paths(sockets, 10, self.name)
        return sockets

    def clear_stats(self) -> None:
        self.window_start = self._pmd_totals()

    def cycles(self) -> tuple[int, int]:
        busy, packets, sleeps = self._pmd_totals()
        print(f"  dpbridge: {sleeps - self.window_start[2]} idle back-off sleeps in the window",
              file=sys.stderr)
        return busy - self.window_start[0], packets - self.window_start[1]

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _pmd_totals(self) -> tuple[int, int, int]:
        stats = json.loads(self._ctl("--json", "pmd-stats"))
        busy = sum_keys(stats, lambda k: k == "busy_cycles")
        packets = sum_keys(stats, lambda k: k == "packets")
        sleeps = sum_keys(stats, lambda k: k == "sleeps")
        return busy, packets, sleeps

    def _ctl(self, *args: str) -> str:
        cmd = [str(self.ctl), "--socket", str(self.control_socket), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout


def sum_keys(value, wanted) -> int:
    """Sums the integer values under keys for which wanted(key) holds, at any depth."""
    if isinstance(value, dict):
        return sum(v if wanted(k) and isinstance(v, int) else sum_keys(v, wanted)
                   for k, v in value.items())
    if isinstance(value, list):
        return sum(sum_keys(v, wanted) for v in value)
    return 0


def find_binary(build_dir: Path, name: str) -> Path | None:
    """The executable `name` anywhere under build_dir, or None."""
    if not build_dir.is_dir():
        return None
    for path in sorted(build_dir.rglob(name)):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SWITCHES = {cls.name: cls for cls in (TestpmdIoSwitch, OvsSwitch, DpbridgeSwitch)}
