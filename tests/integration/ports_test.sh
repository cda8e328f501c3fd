#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Port types against real peers, through the real daemon (issue 3).
#
# Usage: ports_test.sh BUILD_DIR CASE, where CASE is one of
#   tap_netns       two TAP ports (net_tap, `attach --via tap`) in two namespaces: ping, a TCP
#                   transfer, both MACs in the FDB
#   vhost_testpmd   two vhost-user server ports, dpdk-testpmd (virtio-user) as the peer:
#                   frames sent on one arrive on the other, counts equal on both sides
#   vhost_client    a vhost-user client port; the peer (testpmd, virtio-user in server mode)
#                   is killed and restarted; the port reconnects and traffic resumes
#   veth_af_packet  one end of a veth pair in a namespace, the other attached as af-packet:
#                   ping to a TAP namespace
#   tap_interrupts  with only TAP ports (net_tap) the idle PMD thread waits for RX interrupts (every
#                   sleep is an interrupt wait, a few a second) and wakes for a ping; an
#                   af-packet port, which has none, brings back timed sleeps until removed
#   tap_vnet        `attach` (its default link, tap-vnet): the idle PMD thread waits for RX
#                   interrupts and wakes for each ping; the namespaces' TSO and checksum
#                   offloads are on and TCP crosses in frames larger than the MTU, intact; to a
#                   TAP port (net_tap) the switch cuts them into frames of at most the MTU,
#                   intact, while between tap-vnet ports they stay whole; an af-xdp port turns
#                   the offloads off until it leaves; jumbo frames (MTU 9000) cross
#   attach_veth     `attach --via af-xdp` and `--via af-packet`: ping, a TCP transfer, the
#                   FDB, a daemon killed and restarted (the pairs are replaced), detach
#                   removes the pair, a taken interface name is refused
# Needs root; the vhost cases need 2 MB hugepages (scripts/setup.sh). Addresses are in
# 198.18.0.0/15; everything made here is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

build_dir=${1:?usage: ports_test.sh BUILD_DIR CASE}
case_name=${2:?usage: ports_test.sh BUILD_DIR CASE}
dpb_init "$build_dir" "ports-$case_name"
tag=$$
PEER_PIDS=()
PREFIXES=()

# Peer processes and hugepage files go before lib.sh's own cleanup.
ports_cleanup() {
  local status=$? pid prefix link
  set +e
  for pid in "${PEER_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PEER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for prefix in "${PREFIXES[@]}"; do
    rm -f /dev/hugepages/"$prefix"map_* 2>/dev/null || true
    rm -rf /var/run/dpdk/"$prefix" 2>/dev/null || true
  done
  for link in "dpbve$tag" "vx$tag" "vp$tag" "dpbtk$tag"; do ip link del "$link" 2>/dev/null || true; done
  # dpb_cleanup exits with the status it finds in $?: the test's, not ours.
  (exit "$status")
  dpb_cleanup
}
trap ports_cleanup EXIT

# JSON field of a port from `dpbridgectl --json port list`: port_field NAME PYTHON-EXPR
# (the expression sees the port object as `p`).
port_field() {
  dpb_ctl --json port list | python3 -c '
import json, sys
data = json.load(sys.stdin)
ports = data["ports"] if isinstance(data, dict) else data
p = next(p for p in ports if p["name"] == sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# The port an FDB entry is on, or "none": fdb_port MAC
fdb_port() {
  dpb_ctl --json fdb show | python3 -c '
import json, sys
data = json.load(sys.stdin)
rows = data["entries"] if isinstance(data, dict) else data
print(next((r["port"] for r in rows if r["mac"] == sys.argv[1]), "none"))' "$1"
}

wait_link() {
  local port=$1 want=$2 _
  for _ in $(seq 100); do
    [[ $(port_field "$port" 'p["link"]') == "$want" ]] && return 0
    sleep 0.1
  done
  dpb_fail "port $port: link not $want after 10 s"
}

# testpmd with two virtio-user ports, fed commands from a FIFO so that the test decides
# when to send and when to read counters. Usage: start_testpmd NAME VDEV0 VDEV1
start_testpmd() {
  local name=$1 vdev0=$2 vdev1=$3
  command -v dpdk-testpmd >/dev/null || dpb_fail "dpdk-testpmd not installed (package dpdk)"
  PREFIXES+=("dpbg$tag$name")
  mkfifo "$DPB_WORK/$name.in"
  # The generator's forwarding lcore is core 0; the switch's PMD owns core 1.
  stdbuf -oL dpdk-testpmd -l 0,1 --main-lcore 1 --no-pci --single-file-segments \
    --file-prefix "dpbg$tag$name" -m 256 --log-level='*:warning' \
    --vdev "$vdev0" --vdev "$vdev1" -- -i --forward-mode=rxonly --nb-cores=1 \
    --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01 \
    <"$DPB_WORK/$name.in" >"$DPB_WORK/$name.log" 2>&1 &
  TESTPMD_PID=$!
  PEER_PIDS+=("$TESTPMD_PID")
  eval "exec {${name}_fd}>\"\$DPB_WORK/\$name.in\""
}

testpmd_cmd() {
  local name=$1
  shift
  local fd_var="${name}_fd"
  echo "$*" >&"${!fd_var}"
}

# testpmd's RX or TX packet count of a port: testpmd_count NAME PORT RX|TX
testpmd_count() {
  local name=$1 port=$2 what=$3 before
  before=$(grep -c 'RX-packets' "$DPB_WORK/$name.log" || true)
  testpmd_cmd "$name" "show port stats $port"
  local _
  for _ in $(seq 50); do
    (($(grep -c 'RX-packets' "$DPB_WORK/$name.log" || true) > before)) && break
    sleep 0.1
  done
  grep "$what-packets" "$DPB_WORK/$name.log" | tail -n 1 | awk '{print $2}'
}

# TCP: 4 MB from namespace FROM to TO_ADDRESS in namespace TO, checked byte for byte on the
# far side. Usage: tcp_transfer FROM TO TO_ADDRESS
tcp_transfer() {
  local from=$1 to=$2 address=$3
  local sent="$DPB_WORK/tcp.sent" got="$DPB_WORK/tcp.got"
  head -c 4000000 /dev/urandom >"$sent"
  ip netns exec "$to" timeout 30 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], 5201)); s.listen(1); c, _ = s.accept()
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(65536)
        if not b: break
        f.write(b)' "$got" "$address" &
  local server=$!
  sleep 0.5
  ip netns exec "$from" timeout 30 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[2], 5201), timeout=10)
t = time.time(); s.sendall(open(sys.argv[1], "rb").read()); s.close()
print("tcp: %.1f Mbit/s" % (4000000 * 8 / (time.time() - t) / 1e6))' "$sent" "$address"
  wait "$server" || dpb_fail "TCP receiver failed"
  cmp -s "$sent" "$got" || dpb_fail "TCP transfer through the switch corrupted or truncated"
  dpb_pass "4 MB TCP transfer arrived intact"
}

case_tap_netns() {
  dpb_start_daemon
  local ns1="dpbt1-$tag" ns2="dpbt2-$tag"
  dpb_track_netns "$ns1" "$ns2"
  dpb_ctl attach "t1$tag" --netns "$ns1" --ip 198.18.10.1/24 --mac 02:00:00:00:10:01 \
    --via tap >/dev/null
  dpb_ctl attach "t2$tag" --netns "$ns2" --ip 198.18.10.2/24 --mac 02:00:00:00:10:02 \
    --via tap >/dev/null
  [[ $(port_field "t1$tag" 'p["type"]') == tap ]] || dpb_fail "t1$tag is not a tap port"
  dpb_ping "$ns1" 198.18.10.2
  dpb_ping "$ns2" 198.18.10.1
  dpb_pass "ping across two TAP ports"

  [[ $(fdb_port 02:00:00:00:10:01) == "t1$tag" ]] || dpb_fail "FDB: 02:00:00:00:10:01 not on t1$tag"
  [[ $(fdb_port 02:00:00:00:10:02) == "t2$tag" ]] || dpb_fail "FDB: 02:00:00:00:10:02 not on t2$tag"
  dpb_pass "FDB holds both MACs on the right ports"

  tcp_transfer "$ns1" "$ns2" 198.18.10.2
}

# "SLEEPS INTERRUPT_WAITS" of PMD thread 0.
pmd_sleeps() {
  dpb_ctl --json pmd-stats | python3 -c '
import json, sys
p = json.load(sys.stdin)[0]
print(p["sleeps"], p["interrupt_waits"])'
}

# Sleeps and interrupt waits of PMD thread 0 during one idle second: "SLEEPS WAITS".
idle_second() {
  local s0 w0 s1 w1
  read -r s0 w0 < <(pmd_sleeps)
  sleep 1
  read -r s1 w1 < <(pmd_sleeps)
  echo "$((s1 - s0)) $((w1 - w0))"
}

# With only ports that raise RX interrupts: every idle sleep is an interrupt wait, and
# each of 20 pings 100 ms apart wakes the thread. Usage: check_interrupt_waits NS ADDRESS WHAT
check_interrupt_waits() {
  local ns=$1 address=$2 what=$3 sleeps waits
  read -r sleeps waits < <(idle_second)
  ((waits > 0 && waits == sleeps)) ||
    dpb_fail "$what ports only: $sleeps sleeps, $waits interrupt waits in an idle second"
  # A timed back-off sleeps hundreds of times a second; an interrupt wait ends on a
  # frame, a command or its 200 ms bound.
  ((waits <= 20)) || dpb_fail "$what ports only: $waits interrupt waits in an idle second"
  dpb_pass "$what ports only: $waits sleeps in an idle second, all interrupt waits"
  # A frame ends the wait, and the poll after it finds the frame: pings 100 ms apart
  # each find the thread waiting. A frame the thread woke for but did not read stays
  # queued until the next frame or the 200 ms bound, a round trip of 100 ms or more
  # (net_tap before the fix: about one ping in ten).
  local rtts max
  rtts=$(ip netns exec "$ns" ping -c 20 -i 0.1 -W 1 "$address" | sed -n 's/.*time=\([0-9.]*\) ms/\1/p')
  [[ $(wc -l <<<"$rtts") -eq 20 ]] || dpb_fail "pings 100 ms apart: $(wc -l <<<"$rtts") of 20 replies"
  max=$(sort -g <<<"$rtts" | tail -1)
  awk -v t="$max" 'BEGIN {exit !(t < 50)}' || dpb_fail "pings 100 ms apart: slowest round trip $max ms"
  dpb_pass "$what: an idle PMD thread wakes for each frame (20 pings 100 ms apart, slowest $max ms)"
}

case_tap_interrupts() {
  dpb_start_daemon
  local ns1="dpbi1-$tag" ns2="dpbi2-$tag" ns3="dpbi3-$tag" outer="dpbve$tag" sleeps waits
  dpb_track_netns "$ns1" "$ns2" "$ns3"
  dpb_ctl attach "i1$tag" --netns "$ns1" --ip 198.18.12.1/24 --via tap >/dev/null
  dpb_ctl attach "i2$tag" --netns "$ns2" --ip 198.18.12.2/24 --via tap >/dev/null
  dpb_ping "$ns1" 198.18.12.2
  check_interrupt_waits "$ns2" 198.18.12.1 "TAP (net_tap)"

  # A port without RX interrupts: every sleep is timed again.
  ip netns add "$ns3"
  ip link add "$outer" type veth peer name eth0 netns "$ns3"
  ip -n "$ns3" addr add 198.18.12.3/24 dev eth0
  ip -n "$ns3" link set eth0 up
  ip link set "$outer" up
  dpb_ctl port add "ia$tag" --type af-packet --iface "$outer" >/dev/null
  dpb_ping "$ns3" 198.18.12.1
  read -r sleeps waits < <(idle_second)
  ((sleeps > 0 && waits == 0)) ||
    dpb_fail "with an af-packet port: $sleeps sleeps, $waits interrupt waits in an idle second"
  dpb_pass "with an af-packet port: $sleeps timed sleeps, no interrupt wait"

  dpb_ctl port del "ia$tag" >/dev/null
  read -r sleeps waits < <(idle_second)
  ((waits > 0 && waits == sleeps)) ||
    dpb_fail "af-packet port removed: $sleeps sleeps, $waits interrupt waits in an idle second"
  dpb_ping "$ns1" 198.18.12.2
  dpb_pass "af-packet port removed: interrupt waits again, ping"
}

# "RX_PACKETS RX_BYTES" of a port.
port_rx() { port_field "$1" 'str(p["counters"]["rx_packets"]) + " " + str(p["counters"]["rx_bytes"])'; }

# Whether interface IF in namespace NS has TSO on: "on" or "off".
tso_state() {
  ip netns exec "$1" ethtool -k "$2" | sed -n 's/^tcp-segmentation-offload: \([a-z]*\).*/\1/p'
}

# The largest and the mean frame a port received during a TCP transfer from FROM to
# TO_ADDRESS in TO: prints "MEAN" (octets), after checking the data arrived intact.
tcp_mean_frame() {
  local port=$1 from=$2 to=$3 address=$4 p0 b0 p1 b1
  read -r p0 b0 < <(port_rx "$port")
  tcp_transfer "$from" "$to" "$address" >&2
  read -r p1 b1 < <(port_rx "$port")
  echo $(((b1 - b0) / (p1 - p0)))
}

case_tap_vnet() {
  dpb_start_daemon
  local ns1="dpbv1-$tag" ns2="dpbv2-$tag" ns3="dpbv3-$tag" v1="v1$tag" v2="v2$tag" mean
  dpb_track_netns "$ns1" "$ns2" "$ns3"
  dpb_ctl attach "$v1" --netns "$ns1" --ip 198.18.13.1/24 --mac 02:00:00:00:13:01 >/dev/null
  dpb_ctl attach "$v2" --netns "$ns2" --ip 198.18.13.2/24 --mac 02:00:00:00:13:02 \
    --via tap-vnet >/dev/null
  [[ $(port_field "$v1" 'p["type"] + " " + p["attachment"]["via"]') == "tap-vnet tap-vnet" ]] ||
    dpb_fail "$v1 is not a tap-vnet port attached via tap-vnet"
  dpb_ping "$ns1" 198.18.13.2
  dpb_ping "$ns2" 198.18.13.1
  dpb_pass "ping across two tap-vnet ports"
  check_interrupt_waits "$ns2" 198.18.13.1 "tap-vnet"
  [[ $(tso_state "$ns1" "$v1") == on && $(tso_state "$ns2" "$v2") == on ]] ||
    dpb_fail "only tap-vnet ports, but TSO is not on in both namespaces"
  # With TSO a 1500-octet MTU still lets segments of up to 64 KB through whole: the mean
  # frame the switch took from the sender is far above the MTU.
  mean=$(tcp_mean_frame "$v1" "$ns1" "$ns2" 198.18.13.2)
  ((mean > 3000)) || dpb_fail "TCP through tap-vnet ports: mean frame $mean octets, no large segments"
  [[ $(port_field "$v2" 'p["counters"]["drops_total"]') == 0 ]] || dpb_fail "drops on $v2"
  [[ $(port_field "$v1" 'p["offloads"] and p["offloaded_frames"] > 0') == True ]] ||
    dpb_fail "port list does not show $v1 with offloads on and offloaded frames received"
  dpb_pass "offloads on: TCP crossed intact in segments of $mean octets on average"

  # A port of another kind (net_tap) cannot take whole TCP sends: the switch cuts them into
  # segments for it, and the tap-vnet ports keep their offloads.
  local p0 b0 p1 b1 v3="v3$tag"
  dpb_ctl attach "$v3" --netns "$ns3" --ip 198.18.13.3/24 --via tap >/dev/null
  [[ $(tso_state "$ns1" "$v1") == on ]] || dpb_fail "a TAP port joined, and TSO went off in $ns1"
  dpb_ping "$ns3" 198.18.13.1
  read -r p0 b0 < <(port_field "$v3" 'str(p["counters"]["tx_packets"]) + " " + str(p["counters"]["tx_bytes"])')
  mean=$(tcp_mean_frame "$v1" "$ns1" "$ns3" 198.18.13.3)
  read -r p1 b1 < <(port_field "$v3" 'str(p["counters"]["tx_packets"]) + " " + str(p["counters"]["tx_bytes"])')
  ((mean > 3000)) || dpb_fail "to the TAP port: the sender's frames were $mean octets on average"
  (((b1 - b0) / (p1 - p0) <= 1514)) ||
    dpb_fail "the TAP port was sent frames of $(((b1 - b0) / (p1 - p0))) octets on average"
  [[ $(port_field "$v3" 'p["counters"]["drops_total"]') == 0 ]] || dpb_fail "drops on $v3"
  [[ $(port_field "$v3" 'p["counters"]["segmented_sends"] > 0') == True ]] ||
    dpb_fail "port list does not count the sends cut for $v3"
  dpb_pass "to a TAP port: sends of $mean octets cut in the switch into frames of $(((b1 - b0) / (p1 - p0))) on average, intact"
  tcp_transfer "$ns3" "$ns1" 198.18.13.1 >/dev/null
  mean=$(tcp_mean_frame "$v1" "$ns1" "$ns2" 198.18.13.2)
  ((mean > 3000)) || dpb_fail "a TAP port present, yet frames of $mean octets between tap-vnet ports"
  dpb_pass "a TAP port present: between tap-vnet ports TCP still crosses whole ($mean octets on average)"
  dpb_ctl detach "$v3" >/dev/null

  # An af-xdp port loses segments cut in software (DPDK 22.11's af_xdp driver): while one is
  # present the offloads are off and every frame comes finished from the sender.
  local ns4="dpbv4-$tag"
  dpb_track_netns "$ns4"
  dpb_ctl attach "v4$tag" --netns "$ns4" --ip 198.18.13.4/24 --via af-xdp >/dev/null
  [[ $(tso_state "$ns1" "$v1") == off ]] || dpb_fail "an af-xdp port joined, TSO still on in $ns1"
  [[ $(port_field "$v1" 'p["offloads"]') == False ]] || dpb_fail "port list shows offloads on"
  dpb_ping "$ns4" 198.18.13.1
  tcp_transfer "$ns1" "$ns4" 198.18.13.4 >/dev/null
  dpb_ctl detach "v4$tag" >/dev/null
  [[ $(tso_state "$ns1" "$v1") == on ]] || dpb_fail "the af-xdp port left, TSO still off in $ns1"
  mean=$(tcp_mean_frame "$v1" "$ns1" "$ns2" 198.18.13.2)
  ((mean > 3000)) || dpb_fail "offloads back on, yet frames of $mean octets on average"
  dpb_pass "an af-xdp port present: offloads off, TCP to it intact; removed: on again ($mean octets)"

  # Jumbo frames cross as mbuf chains: 8,928-octet pings, not to be fragmented.
  ip -n "$ns1" link set "$v1" mtu 9000
  ip -n "$ns2" link set "$v2" mtu 9000
  ip netns exec "$ns1" ping -c 3 -i 0.2 -W 2 -s 8900 -M do 198.18.13.2 >/dev/null ||
    dpb_fail "8,928-octet pings between tap-vnet ports with MTU 9000 did not come back"
  dpb_pass "jumbo frames (MTU 9000) cross tap-vnet ports whole"
}

case_vhost_testpmd() {
  PREFIXES+=("dpbt$tag")
  dpb_start_hugepage_daemon "dpbt$tag"
  dpb_ctl port add v0 --type vhost-user --path "$DPB_WORK/v0.sock" >/dev/null
  dpb_ctl port add v1 --type vhost-user --path "$DPB_WORK/v1.sock" >/dev/null
  start_testpmd gen \
    "net_virtio_user0,path=$DPB_WORK/v0.sock,mac=02:00:00:00:00:01" \
    "net_virtio_user1,path=$DPB_WORK/v1.sock,mac=02:00:00:00:00:02"
  wait_link v0 up
  wait_link v1 up
  sleep 0.5
  # Four bursts of 32 frames from each port, then receive only.
  testpmd_cmd gen "start tx_first 4"
  sleep 2
  testpmd_cmd gen "stop"
  local gen_tx0 gen_rx0 gen_tx1 gen_rx1
  gen_tx0=$(testpmd_count gen 0 TX)
  gen_rx0=$(testpmd_count gen 0 RX)
  gen_tx1=$(testpmd_count gen 1 TX)
  gen_rx1=$(testpmd_count gen 1 RX)
  local v0_rx v0_tx v1_rx v1_tx
  v0_rx=$(port_field v0 'p["counters"]["rx_packets"]')
  v0_tx=$(port_field v0 'p["counters"]["tx_packets"]')
  v1_rx=$(port_field v1 'p["counters"]["rx_packets"]')
  v1_tx=$(port_field v1 'p["counters"]["tx_packets"]')
  echo "testpmd: port0 tx $gen_tx0 rx $gen_rx0, port1 tx $gen_tx1 rx $gen_rx1;" \
    "dpbridge: v0 rx $v0_rx tx $v0_tx, v1 rx $v1_rx tx $v1_tx"
  [[ $gen_tx0 -eq 128 && $gen_tx1 -eq 128 ]] || dpb_fail "testpmd did not send 128 per port"
  [[ $v0_rx -eq $gen_tx0 && $v1_rx -eq $gen_tx1 ]] || dpb_fail "switch RX != testpmd TX"
  [[ $v1_tx -eq $v0_rx && $v0_tx -eq $v1_rx ]] || dpb_fail "switch TX != switch RX across"
  [[ $gen_rx1 -eq $v1_tx && $gen_rx0 -eq $v0_tx ]] || dpb_fail "testpmd RX != switch TX"
  dpb_pass "vhost-user: 128 frames each way, counts equal on both sides"
  [[ $(fdb_port 02:00:00:00:00:01) == v0 && $(fdb_port 02:00:00:00:00:02) == v1 ]] ||
    dpb_fail "FDB does not hold the generator's MACs on v0 and v1"
  dpb_pass "vhost-user: FDB learned both peers"
  testpmd_cmd gen "quit"
}

case_vhost_client() {
  PREFIXES+=("dpbt$tag")
  dpb_start_hugepage_daemon "dpbt$tag"
  local server_sock="$DPB_WORK/peer.sock"
  dpb_ctl port add v1 --type vhost-user --path "$DPB_WORK/v1.sock" >/dev/null
  # The peer owns c0's socket: virtio-user in server mode. dpbridge connects to it.
  local vdev0="net_virtio_user0,path=$server_sock,server=1,mac=02:00:00:00:00:01"
  local vdev1="net_virtio_user1,path=$DPB_WORK/v1.sock,mac=02:00:00:00:00:02"
  start_testpmd gen1 "$vdev0" "$vdev1"
  local _
  for _ in $(seq 50); do [[ -S $server_sock ]] && break; sleep 0.1; done
  dpb_ctl port add c0 --type vhost-user --client --path "$server_sock" >/dev/null
  wait_link c0 up
  wait_link v1 up
  sleep 0.5
  testpmd_cmd gen1 "start tx_first 2"
  sleep 1
  local before
  before=$(port_field c0 'p["counters"]["rx_packets"]')
  [[ $before -eq 64 ]] || dpb_fail "c0 received $before frames before the restart, expected 64"
  dpb_pass "client port: traffic before the peer restart"

  kill -9 "$TESTPMD_PID"
  wait_link c0 down
  dpb_pass "client port: peer death noticed (link down)"
  rm -f "$server_sock" /dev/hugepages/"dpbg${tag}gen1"map_*
  start_testpmd gen2 "$vdev0" "$vdev1"
  wait_link c0 up
  wait_link v1 up
  sleep 0.5
  testpmd_cmd gen2 "start tx_first 2"
  sleep 1
  local after
  after=$(port_field c0 'p["counters"]["rx_packets"]')
  echo "c0 rx before restart $before, after $after"
  ((after >= before + 64)) || dpb_fail "no traffic on c0 after the peer came back"
  local gen_rx1
  gen_rx1=$(testpmd_count gen2 1 RX)
  ((gen_rx1 >= 64)) || dpb_fail "the restarted peer received $gen_rx1 frames on port 1"
  dpb_pass "client port: reconnected and forwarding without restarting dpbridge"
  testpmd_cmd gen2 "quit"
}

case_veth_af_packet() {
  dpb_start_daemon
  local ns_veth="dpbv-$tag" ns_tap="dpbp-$tag" outer="dpbve$tag" inner="dpbvi$tag"
  dpb_track_netns "$ns_veth" "$ns_tap"
  ip netns add "$ns_veth"
  ip link add "$outer" type veth peer name "$inner"
  ip link set "$inner" netns "$ns_veth"
  ip -n "$ns_veth" addr add 198.18.11.1/24 dev "$inner"
  ip -n "$ns_veth" link set "$inner" up
  ip -n "$ns_veth" link set lo up
  ip link set "$outer" up
  dpb_ctl port add "ap$tag" --type af-packet --iface "$outer" >/dev/null
  dpb_ctl attach "tp$tag" --netns "$ns_tap" --ip 198.18.11.2/24 >/dev/null
  dpb_ping "$ns_veth" 198.18.11.2
  dpb_ping "$ns_tap" 198.18.11.1
  dpb_pass "veth (af-packet) to TAP namespace: ping both ways"
}

case_attach_veth() {
  dpb_start_daemon
  local nx="dpbax-$tag" np="dpbap-$tag" px="vx$tag" pp="vp$tag"
  dpb_track_netns "$nx" "$np"
  dpb_ctl attach "$px" --netns "$nx" --ip 198.18.12.1/24 --mac 02:00:00:00:12:01 \
    --via af-xdp >/dev/null
  dpb_ctl attach "$pp" --netns "$np" --ip 198.18.12.2/24 --mac 02:00:00:00:12:02 \
    --via af-packet >/dev/null
  [[ $(port_field "$px" 'p["type"] + " " + p["attachment"]["via"]') == "af-xdp af-xdp" ]] ||
    dpb_fail "$px is not an af-xdp port attached via af-xdp"
  [[ $(port_field "$pp" 'p["type"]') == af-packet ]] || dpb_fail "$pp is not an af-packet port"
  ip link show "$px" >/dev/null 2>&1 || dpb_fail "no host end $px"
  ip netns exec "$nx" ethtool -k "$px" | grep -q '^tx-checksumming: off' ||
    dpb_fail "TX checksum offload still on in $nx"
  dpb_pass "veth pairs made: host ends are the ports, the namespace ends compute checksums"

  dpb_ping "$nx" 198.18.12.2
  dpb_ping "$np" 198.18.12.1
  dpb_pass "ping across af-xdp and af-packet attachments"
  tcp_transfer "$nx" "$np" 198.18.12.2
  [[ $(fdb_port 02:00:00:00:12:01) == "$px" && $(fdb_port 02:00:00:00:12:02) == "$pp" ]] ||
    dpb_fail "FDB does not hold the namespaces' MACs on $px and $pp"
  local learned
  learned=$(dpb_ctl --json fdb show | python3 -c '
import json, sys
data = json.load(sys.stdin)
rows = data["entries"] if isinstance(data, dict) else data
print(len(rows))')
  [[ $learned -eq 2 ]] || dpb_fail "FDB holds $learned entries, expected the 2 namespaces only"
  dpb_pass "FDB: the two namespaces, nothing of the host ends"

  # A daemon killed outright leaves the pairs; the next one replaces them from its state.
  dpb_kill9_daemon
  ip link show "$px" >/dev/null 2>&1 || dpb_fail "host end $px vanished with the daemon"
  dpb_start_daemon
  wait_link "$px" up
  wait_link "$pp" up
  dpb_ping "$nx" 198.18.12.2
  dpb_pass "restart: attachments restored, forwarding again"

  dpb_ctl detach "$px" >/dev/null
  ! ip link show "$px" >/dev/null 2>&1 || dpb_fail "detach left the host end $px"
  ! ip -n "$nx" link show "$px" >/dev/null 2>&1 || dpb_fail "detach left $px in $nx"
  dpb_pass "detach removes the veth pair"

  ip link add "dpbtk$tag" type veth peer name "dpbtl$tag"
  dpb_expect_error 1 "already exists in the host namespace" \
    dpb_ctl attach "dpbtk$tag" --netns "$nx" --via af-xdp
  ip link show "dpbtk$tag" >/dev/null 2>&1 || dpb_fail "a refused attach deleted dpbtk$tag"
  dpb_expect_error 1 "use tap-vnet, tap, af-xdp or af-packet" dpb_ctl attach "vz$tag" --netns "$nx" --via ring
  dpb_pass "taken interface names and unknown links are refused"
}

case "$case_name" in
  tap_netns) case_tap_netns ;;
  tap_interrupts) case_tap_interrupts ;;
  tap_vnet) case_tap_vnet ;;
  vhost_testpmd) case_vhost_testpmd ;;
  vhost_client) case_vhost_client ;;
  veth_af_packet) case_veth_af_packet ;;
  attach_veth) case_attach_veth ;;
  *) dpb_fail "unknown case $case_name" ;;
esac
