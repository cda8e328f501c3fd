#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container path (issue 6): two namespaces attached to dpbridge through TAP ports, versus
# the same two namespaces on a kernel bridge with veth pairs (what docker0 does). Alternates
# the two round by round and reports, per setup, the median and min-max of:
#   UDP 64-byte frames per second received (iperf3 -u, two flows, unlimited rate),
#   TCP throughput (iperf3, one flow), ping round trip p50 / p99 (200 pings, 10 ms apart).
#
# Usage: bench/system/container_path.sh [--rounds N] [--seconds S] [--build-dir DIR]
# Needs root, iperf3 and a built dpbridge. Everything lives in namespaces made here, with
# addresses in 198.18.0.0/15, and is removed on exit.
set -euo pipefail

rounds=3
seconds=5
build_dir=build
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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
dp_a=dpbca-$tag dp_b=dpbcb-$tag      # namespaces on dpbridge
kb_a=dpbka-$tag kb_b=dpbkb-$tag      # namespaces on the kernel bridge
kb_br=dpbkbr-$tag                    # namespace holding the kernel bridge
daemon_pid=''

cleanup() {
  [[ -n $daemon_pid ]] && { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; } || true
  for ns in "$dp_a" "$dp_b" "$kb_a" "$kb_b" "$kb_br"; do ip netns del "$ns" 2>/dev/null || true; done
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
ctl attach "ca$tag" --netns "$dp_a" --ip 198.18.20.1/24
ctl attach "cb$tag" --netns "$dp_b" --ip 198.18.20.2/24

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
  measure dpbridge "$dp_a" "$dp_b" 198.18.20.2
  measure kernel-bridge "$kb_a" "$kb_b" 198.18.21.2
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
base = {n: statistics.median(list(zip(*s))[0]) for n, s in rows.items()}
if "kernel-bridge" in base and "dpbridge" in base and base["kernel-bridge"] > 0:
    print(f"\nUDP ratio dpbridge / kernel bridge: {base['dpbridge'] / base['kernel-bridge']:.2f}")
EOF
