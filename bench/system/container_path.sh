#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container path (issue 6): two namespaces attached to dpbridge, versus the same two
# namespaces on a kernel bridge with veth pairs (what docker0 does). dpbridge attaches them
# through TAP ports (`dpbridgectl attach`, setup tap), through TAP ports with virtio-net
# headers (`attach --via tap-vnet`, setup tap-vnet: checksum and TSO offloads, in a second
# daemon of its own, which keeps each setup's ports apart) or through veth
# pairs whose host ends are af-packet ports (setup af-packet) or af-xdp ports (setup
# af-xdp). Setup tap-vnet-af-packet mixes two: the client's namespace on a tap-vnet port
# (TSO on), the server's behind veth + af-packet, so the switch cuts the client's TCP sends
# into segments in software. Setup tap-vnet-shared attaches two namespaces through tap-vnet
# ports to the first daemon, beside the ports of the other setups chosen: their offloads are
# on only while none of those is af-xdp (docs/architecture.md). Both daemons' PMD threads run on core 1; the one not measured is idle.
# Alternates the setups round by round and reports, per setup, the median and min-max of:
#   UDP 64-byte frames per second received (iperf3 -u, two flows, unlimited rate),
#   TCP throughput (iperf3, one flow), ping round trip p50 / p99 (200 pings, 10 ms apart).
#
# Usage: bench/system/container_path.sh [--rounds N] [--seconds S] [--build-dir DIR]
#                                       [--setups tap,tap-vnet,af-packet,af-xdp,tap-vnet-af-packet,
#                                                 tap-vnet-shared,kernel-bridge]
# Needs root, iperf3 and a built dpbridge. Everything lives in namespaces made here, with
# addresses in 198.18.0.0/15, and is removed on exit.
set -euo pipefail

rounds=3
seconds=5
build_dir=build
setups=tap,tap-vnet,af-packet,kernel-bridge
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --setups) setups=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
    *) echo "container_path.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/../.."
daemon=$build_dir/control/dpbridge
ctl_bin=$build_dir/control/dpbridgectl
[[ -x $daemon && -x $ctl_bin ]] || { echo "container_path.sh: build first (scripts/build.sh)" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "container_path.sh: iperf3 missing (scripts/setup.sh)" >&2; exit 1; }

tag=$$
work=$(mktemp -d /tmp/dpb-container.XXXXXX)
socket=$work/dpbridge.sock
socket_vnet=$work/dpbridge-vnet.sock
dp_a=dpbca-$tag dp_b=dpbcb-$tag      # namespaces on dpbridge through TAP
vn_a=dpbva-$tag vn_b=dpbvb-$tag      # namespaces on the second dpbridge through tap-vnet
ap_a=dpbpa-$tag ap_b=dpbpb-$tag      # namespaces on dpbridge through veth + af-packet
xp_a=dpbxa-$tag xp_b=dpbxb-$tag      # namespaces on dpbridge through veth + af-xdp
mx_a=dpbma-$tag mx_b=dpbmb-$tag      # tap-vnet (client) and veth + af-packet (server)
sh_a=dpbsa-$tag sh_b=dpbsb-$tag      # tap-vnet ports in the first daemon, beside the others
kb_a=dpbka-$tag kb_b=dpbkb-$tag      # namespaces on the kernel bridge
kb_br=dpbkbr-$tag                    # namespace holding the kernel bridge
daemon_pid=''
vnet_pid=''

cleanup() {
  [[ -n $daemon_pid ]] && { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; } || true
  [[ -n $vnet_pid ]] && { kill -TERM "$vnet_pid" 2>/dev/null; wait "$vnet_pid" 2>/dev/null; } || true
  for ns in "$dp_a" "$dp_b" "$vn_a" "$vn_b" "$ap_a" "$ap_b" "$xp_a" "$xp_b" "$mx_a" "$mx_b" "$sh_a" "$sh_b" "$kb_a" "$kb_b" "$kb_br"; do
    ip netns del "$ns" 2>/dev/null || true  # takes the veth pairs with it
  done
  pkill -f "iperf3 -s -B 198.18.2" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ctl() { "$ctl_bin" --socket "$socket" "$@" >/dev/null; }

# dpbridge: TAP ports, one PMD thread on core 1.
"$daemon" ${DPB_CONFIG:+--config "$DPB_CONFIG"} --no-huge --lcores 0,1 --socket "$socket" --state-dir "$work/state" --metrics off \
  >"$work/dpbridge.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do "$ctl_bin" --socket "$socket" show >/dev/null 2>&1 && break; sleep 0.1; done
has_setup() { [[ ,$setups, == *,$1,* ]]; }
if has_setup tap; then
  ctl attach "ca$tag" --netns "$dp_a" --ip 198.18.20.1/24 --via tap
  ctl attach "cb$tag" --netns "$dp_b" --ip 198.18.20.2/24 --via tap
fi
if has_setup tap-vnet; then
  printf 'file_prefix = "dpbcv%s"\n' "$tag" >"$work/vnet.toml"
  "$daemon" --config "$work/vnet.toml" --no-huge --lcores 0,1 --socket "$socket_vnet" \
    --state-dir "$work/state-vnet" --metrics off >"$work/dpbridge-vnet.log" 2>&1 &
  vnet_pid=$!
  for _ in $(seq 100); do "$ctl_bin" --socket "$socket_vnet" show >/dev/null 2>&1 && break; sleep 0.1; done
  "$ctl_bin" --socket "$socket_vnet" attach "va$tag" --netns "$vn_a" --ip 198.18.24.1/24 --via tap-vnet >/dev/null
  "$ctl_bin" --socket "$socket_vnet" attach "vb$tag" --netns "$vn_b" --ip 198.18.24.2/24 --via tap-vnet >/dev/null
fi

# veth_port TYPE NS HOST_END ADDRESS: a namespace whose eth0 is a veth pair's end, the
# other end (in this namespace) a dpbridge port of TYPE. A packet socket or an XDP socket
# gets frames without the checksum metadata that a veth pair carries, so the namespace
# computes checksums itself (tx checksum offload off, which also turns TSO off).
veth_port() {
  local type=$1 ns=$2 host_end=$3 addr=$4
  ip netns add "$ns"
  ip link add "$host_end" type veth peer name eth0 netns "$ns"
  ip link set "$host_end" up
  ip -n "$ns" addr add "$addr" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
  ctl port add "$host_end" --type "$type" --iface "$host_end"
}
if has_setup af-packet; then
  veth_port af-packet "$ap_a" "dpbpa$tag" 198.18.22.1/24
  veth_port af-packet "$ap_b" "dpbpb$tag" 198.18.22.2/24
fi
if has_setup af-xdp; then
  veth_port af-xdp "$xp_a" "dpbxa$tag" 198.18.23.1/24
  veth_port af-xdp "$xp_b" "dpbxb$tag" 198.18.23.2/24
fi
if has_setup tap-vnet-shared; then
  ctl attach "sa$tag" --netns "$sh_a" --ip 198.18.26.1/24 --via tap-vnet
  ctl attach "sb$tag" --netns "$sh_b" --ip 198.18.26.2/24 --via tap-vnet
fi
if has_setup tap-vnet-af-packet; then
  ctl attach "ma$tag" --netns "$mx_a" --ip 198.18.25.1/24 --via tap-vnet
  veth_port af-packet "$mx_b" "dpbmb$tag" 198.18.25.2/24
fi

# The kernel bridge, in a namespace of its own so that the host's network is untouched.
ip netns add "$kb_br"
ip -n "$kb_br" link add br0 type bridge
ip -n "$kb_br" link set br0 up
for side in a b; do
  ns=$kb_a; addr=198.18.21.1/24
  [[ $side == b ]] && { ns=$kb_b; addr=198.18.21.2/24; }
  ip netns add "$ns"
  ip -n "$ns" link add eth0 type veth peer name "v$side" netns "$kb_br"
  ip -n "$kb_br" link set "v$side" master br0 up
  ip -n "$ns" addr add "$addr" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done
# Kernel bridge forwarding delay: wait until both bridge ports forward.
sleep 2

# One measurement round: measure NAME CLIENT_NS SERVER_NS SERVER_IP -> appends to results
measure() {
  local name=$1 cns=$2 sns=$3 sip=$4
  ip netns exec "$sns" iperf3 -s -B "$sip" -D -1 --logfile "$work/iperf-$name.log" >/dev/null
  sleep 0.3
  local udp tcp pings
  udp=$(ip netns exec "$cns" timeout $((seconds + 15)) iperf3 -c "$sip" -u -b 0 -l 18 -P 2 \
    -t "$seconds" -J | python3 -c '
import json, sys
d = json.load(sys.stdin)["end"]["sum"]
print(round((d["packets"] - d["lost_packets"]) / d["seconds"]))')
  ip netns exec "$sns" iperf3 -s -B "$sip" -D -1 --logfile "$work/iperf-$name.log" >/dev/null
  sleep 0.3
  tcp=$(ip netns exec "$cns" timeout $((seconds + 15)) iperf3 -c "$sip" -t "$seconds" -J |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9, 2))')
  pings=$(ip netns exec "$cns" ping -c 200 -i 0.01 -W 1 "$sip" | python3 -c '
import re, sys
t = sorted(float(m.group(1)) for m in re.finditer(r"time=([0-9.]+)", sys.stdin.read()))
print("%.3f %.3f" % (t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.99))]))')
  echo "$name $udp $tcp $pings" >>"$work/results"
  echo "round: $name udp_pps=$udp tcp_gbps=$tcp ping_p50_p99_ms=$pings" >&2
}

for round in $(seq "$rounds"); do
  has_setup tap && measure dpbridge-tap "$dp_a" "$dp_b" 198.18.20.2
  has_setup tap-vnet && measure dpbridge-tap-vnet "$vn_a" "$vn_b" 198.18.24.2
  has_setup af-packet && measure dpbridge-af-packet "$ap_a" "$ap_b" 198.18.22.2
  has_setup af-xdp && measure dpbridge-af-xdp "$xp_a" "$xp_b" 198.18.23.2
  has_setup tap-vnet-shared && measure dpbridge-tap-vnet-shared "$sh_a" "$sh_b" 198.18.26.2
  has_setup tap-vnet-af-packet && measure dpbridge-tap-vnet-af-packet "$mx_a" "$mx_b" 198.18.25.2
  has_setup kernel-bridge && measure kernel-bridge "$kb_a" "$kb_b" 198.18.21.2
done

python3 - "$work/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, udp, tcp, p50, p99 = line.split()
    rows.setdefault(name, []).append((float(udp), float(tcp), float(p50), float(p99)))
def cell(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"
kpps = lambda v: f"{v / 1e3:.0f}"
print("| Setup | UDP 64 B kpps | TCP Gbit/s | ping p50 ms | ping p99 ms |")
print("|---|---|---|---|---|")
for name, samples in rows.items():
    cols = list(zip(*samples))
    print(f"| {name} | {cell(cols[0], kpps)} | {cell(cols[1], lambda v: f'{v:.2f}')} | "
          f"{cell(cols[2], lambda v: f'{v:.3f}')} | {cell(cols[3], lambda v: f'{v:.3f}')} |")
medians = {n: [statistics.median(c) for c in zip(*s)] for n, s in rows.items()}
kb = medians.get("kernel-bridge")
if kb and kb[0] > 0 and kb[1] > 0:
    print()
    for name, m in medians.items():
        if name != "kernel-bridge":
            print(f"{name} / kernel bridge: UDP {m[0] / kb[0]:.2f}, TCP {m[1] / kb[1]:.2f}")
EOF
