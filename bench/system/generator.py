# SPDX-License-Identifier: Apache-2.0
"""Traffic generators for the system benchmark: what loops frames through a switch.

A generator connects to the switch's two vhost-user sockets as a virtio-user frontend and
keeps known unicast circulating generator -> switch -> generator. The benchmark counts the
frames the generator receives (both ports) as the frames the switch forwarded.

Any class with the methods of TestpmdMacGenerator can replace it (see GENERATORS), e.g. a
small DPDK program that varies MAC pairs for the many-flow cases.

testpmd's mac engine sends every frame of a port with one MAC pair, so the many-flow cases
(1 K and 64 K MAC pairs) use FlowgenGenerator, our own small DPDK program
(bench/system/mac_flowgen.cc).
"""

import re
import time
from pathlib import Path

from testpmd import RunContext, Testpmd

PORT_MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")
BURSTS_IN_FLIGHT = 16


class TestpmdMacGenerator:
    """dpdk-testpmd, two net_virtio_user ports, mac forwarding with crossed --eth-peer.

    What arrives on one port leaves on the other addressed to the first port's MAC, so the
    frames stay known unicast with learnable source MACs. `start tx_first N` primes the loop
    with N bursts per port; a txonly generator would not drain its RX rings.
    """

    name = "testpmd-mac"

    def __init__(self, ctx: RunContext, sockets: list[Path], frame_size: int,
                 main_core: int, fwd_core: int, memory_mb: int = 512):
        self.prefix = prefix = ctx.file_prefix("gen")
        eal = [f"-l{fwd_core},{main_core}", f"--main-lcore={main_core}", "--no-pci",
               "--single-file-segments", f"--file-prefix={prefix}", f"-m{memory_mb}"]
        for index, (socket, mac) in enumerate(zip(sockets, PORT_MACS)):
            eal.append(f"--vdev=net_virtio_user{index},path={socket},mac={mac},queues=1")
        app = ["--nb-cores=1", "--forward-mode=mac", "--record-core-cycles",
               f"--eth-peer=0,{PORT_MACS[1]}", f"--eth-peer=1,{PORT_MACS[0]}"]
        self.frame_size = frame_size
        self.testpmd = Testpmd(ctx, "generator", eal, app)

    def prime(self) -> None:
        """Sets the frame size and injects the first bursts."""
        self.testpmd.command(f"set txpkts {self.frame_size}")
        self.testpmd.command(f"start tx_first {BURSTS_IN_FLIGHT}")

    def clear_stats(self) -> None:
        self.testpmd.command("clear port stats all")
        self.testpmd.command("clear fwd stats all")

    def rx_packets(self) -> int:
        """Frames received on both ports since clear_stats()."""
        return self.testpmd.port_rx_packets()

    def busy_cycles(self) -> tuple[int, int, float]:
        """(busy cycles, packets, TSC MHz) of the forwarding core since clear_stats()."""
        return self.testpmd.fwd_cycles()

    def pids(self) -> list[int]:
        return [self.testpmd.proc.pid]

    def stop(self) -> None:
        self.testpmd.stop()


class FlowgenGenerator:
    """bench/system/mac_flowgen: the same two virtio-user ports, N MAC pairs.

    Every frame it receives goes back out of the port it came in on, rewritten with the next
    pair: frames leaving port 0 carry (dst B_j, src A_j), frames leaving port 1 (dst A_j,
    src B_j). The switch learns 2N addresses, never moves one, and looks up a different
    entry for every frame. Its running totals come from its "stats" lines.
    """

    name = "flowgen"
    STATS = re.compile(rb"stats rx=(\d+) busy_cycles=(\d+) hz=(\d+)")

    def __init__(self, ctx: RunContext, sockets: list[Path], frame_size: int,
                 main_core: int, fwd_core: int, pairs: int = 1, memory_mb: int = 512,
                 build_dir: Path = Path("build")):
        self.prefix = prefix = ctx.file_prefix("gen")
        binary = build_dir / "bench" / "system" / "mac_flowgen"
        if not binary.exists():
            raise RuntimeError(f"{binary} is not built (scripts/build.sh)")
        # The generator's loop runs on its main lcore: the forwarding core.
        eal = [f"-l{fwd_core}", f"--main-lcore={fwd_core}", "--no-pci",
               "--single-file-segments", f"--file-prefix={prefix}", f"-m{memory_mb}",
               "--log-level=*:warning"]
        for index, socket in enumerate(sockets):
            eal.append(f"--vdev=net_virtio_user{index},path={socket},queues=1")
        self.log = ctx.run_dir / f"flowgen-{prefix}.log"
        self.proc = ctx.spawn([str(binary), *eal, "--", "--pairs", str(pairs), "--seconds", "0",
                               "--size", str(frame_size)], self.log.name)
        self.base = (0, 0)

    def _totals(self) -> tuple[int, int, int]:
        for _ in range(50):
            if self.log.exists():
                found = self.STATS.findall(self.log.read_bytes()[-4096:])
                if found:
                    return tuple(int(x) for x in found[-1])
            time.sleep(0.1)
        raise RuntimeError(f"mac_flowgen printed no statistics; see {self.log}")

    def prime(self) -> None:
        """mac_flowgen primes itself once both links are up."""
        self._totals()

    def clear_stats(self) -> None:
        rx, busy, _ = self._totals()
        self.base = (rx, busy)

    def rx_packets(self) -> int:
        return self._totals()[0] - self.base[0]

    def busy_cycles(self) -> tuple[int, int, float]:
        rx, busy, hz = self._totals()
        return busy - self.base[1], rx - self.base[0], hz / 1e6

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - any failure to stop ends in a kill
            self.proc.kill()


GENERATORS = {TestpmdMacGenerator.name: TestpmdMacGenerator,
              FlowgenGenerator.name: FlowgenGenerator}
