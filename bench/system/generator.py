# SPDX-License-Identifier: Apache-2.0
"""Traffic generators for the system benchmark: what loops frames through a switch.

A generator connects to the switch's two vhost-user sockets as a virtio-user frontend and
keeps known unicast circulating generator -> switch -> generator. The benchmark counts the
frames the generator receives (both ports) as the frames the switch forwarded.

Any class with the methods of TestpmdMacGenerator can replace it (see GENERATORS), e.g. a
small DPDK program that varies MAC pairs for the many-flow cases.

Limitation: testpmd's mac engine sends every frame of a port with one MAC pair, so this
generator covers the two-MAC case only; the 1 K / 64 K pair cases need another generator
(TODO(#6)).
"""

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


GENERATORS = {TestpmdMacGenerator.name: TestpmdMacGenerator}
