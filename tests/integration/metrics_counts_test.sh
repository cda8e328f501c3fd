#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sends a known number of frames through dpbridge and checks that /metrics counted
# exactly that many, in packets and bytes, on both ports.
#
# Usage: metrics_counts_test.sh BUILD_DIR
#
# The daemon runs with --no-huge and its own socket, state dir and metrics port. Two
# namespaces are attached through TAP ports; IPv6 is off in them and their neighbour
# entries are static, so the only frames on the wire are the test's pings: N echo
# requests of 98 bytes one way and N replies the other way. Needs root.
set -euo pipefail

build_dir=${1:?usage: $0 BUILD_DIR}
build_dir=$(cd "$build_dir" && pwd)
daemon=$build_dir/control/dpbridge
ctl=$build_dir/control/dpbridgectl

readonly kPings=200
readonly kFrameBytes=98  # Ethernet 14 + IPv4 20 + ICMP 8 + ping's default 56

fail() { echo "FAIL: $*" >&2; exit 1; }

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || fail "needs root (namespaces and TAP devices)"
for tool in curl python3 ip ping; do
  command -v "$tool" >/dev/null || fail "$tool not installed (scripts/setup.sh installs it)"
done
[[ -x $daemon ]] || fail "$daemon not built: this test needs the real daemon"
[[ -x $ctl ]] || fail "$ctl not built"

# Names unique to this run: ports (and their interfaces) and namespaces.
tag=$$
port_a=mca$tag
port_b=mcb$tag
ns_a=dpbridge-mc-a-$tag
ns_b=dpbridge-mc-b-$tag
ip_a=198.19.77.1
ip_b=198.19.77.2
mac_a=02:db:4d:00:00:0a
mac_b=02:db:4d:00:00:0b

work=$(mktemp -d /tmp/dpbridge-mctest.XXXXXX)
daemon_pid=''
cleanup() {
  local status=$?
  if [[ -n $daemon_pid ]]; then
    kill "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  dpb_sanitizer_report "$work/daemon.log" && status=1
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

ctl() { "$ctl" --socket "$work/dpbridge.sock" "$@"; }

# --- Start the daemon on a free metrics port ------------------------------------
metrics_port=''
for _ in 1 2 3; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
  mkdir -p "$work/state"
  "$daemon" --no-huge --socket "$work/dpbridge.sock" --state-dir "$work/state" \
    --metrics "127.0.0.1:$port" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && ctl show >/dev/null 2>&1; then
      metrics_port=$port
      break 2
    fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=''
  grep -qi 'address already in use' "$work/daemon.log" || break
done
if [[ -z $metrics_port ]]; then
  cat "$work/daemon.log" >&2
  fail "the daemon did not serve /metrics and its control socket within 20 s"
fi
echo "daemon up: metrics on 127.0.0.1:$metrics_port"

# --- Two quiet namespaces ----------------------------------------------------------
for ns in "$ns_a" "$ns_b"; do
  ip netns add "$ns"
  # Interfaces moved in later take the namespace's defaults: no IPv6, so no
  # neighbour discovery, router solicitations or MLD reports.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ctl attach "$port_a" --netns "$ns_a" --ip "$ip_a/24" --mac "$mac_a" >/dev/null
ctl attach "$port_b" --netns "$ns_b" --ip "$ip_b/24" --mac "$mac_b" >/dev/null
# Static neighbours: no ARP during the measured window.
ip -n "$ns_a" neigh replace "$ip_b" lladdr "$mac_b" dev "$port_a" nud permanent
ip -n "$ns_b" neigh replace "$ip_a" lladdr "$mac_a" dev "$port_b" nud permanent

# A request that fails, to be counted as an error.
if ctl port del "nosuch$tag" >/dev/null 2>&1; then fail "deleting a missing port succeeded"; fi

# Warm-up: both links up and both MACs learned, so the measured pings are known
# unicast both ways.
warm=0
for _ in $(seq 20); do
  if ip netns exec "$ns_a" ping -c 3 -i 0.2 -W 1 -q "$ip_b" >/dev/null 2>&1; then warm=1; break; fi
  sleep 0.5
done
((warm)) || fail "no ping from $ns_a to $ns_b through dpbridge within 20 s"

# --- Snapshots of the counters -------------------------------------------------------
# Prints "name{labels} value" for this run's ports and the PMD packet counters.
snapshot() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    grep -E -e "^dpbridge_(port_[a-z_]+\{port=\"($port_a|$port_b)\"|pmd_packets_total)" \
      -e "^dpbridge_control_requests_total" |
    sort
}

# Waits until two snapshots 0.5 s apart agree (nothing in flight, the view refreshed);
# prints the last one.
settled_snapshot() {
  local previous current
  previous=$(snapshot)
  for _ in $(seq 30); do
    sleep 0.5
    current=$(snapshot)
    if [[ $current == "$previous" ]]; then
      printf '%s\n' "$current"
      return 0
    fi
    previous=$current
  done
  fail "counters still changing after 15 s with no traffic sent"
}

before=$(settled_snapshot)
# A second settled snapshot a second later must agree: the namespaces are quiet.
sleep 1
quiet=$(settled_snapshot)
[[ $quiet == "$before" ]] || fail "traffic while idle: $(diff <(echo "$before") <(echo "$quiet"))"

ping_out=$(ip netns exec "$ns_a" ping -c "$kPings" -i 0.005 -W 2 -q "$ip_b")
[[ $ping_out == *"$kPings packets transmitted, $kPings received"* ]] ||
  fail "ping lost packets, so the counts cannot match: $ping_out"
after=$(settled_snapshot)

# --- Compare ------------------------------------------------------------------------
export before after port_a port_b kPings kFrameBytes
python3 - <<'PY'
import os, sys

def parse(text):
    values = {}
    for line in text.splitlines():
        key, value = line.rsplit(" ", 1)
        values[key] = float(value)
    return values

before, after = parse(os.environ["before"]), parse(os.environ["after"])
n, size = int(os.environ["kPings"]), int(os.environ["kFrameBytes"])
failures = []

def delta(key):
    if key not in after:
        failures.append("missing series " + key)
        return None
    return after[key] - before.get(key, 0.0)

def expect(key, want):
    got = delta(key)
    if got is not None and got != want:
        failures.append("%s: expected +%d, got +%g" % (key, want, got))
    elif got is not None:
        print("ok: %s +%d" % (key, want))

for port in (os.environ["port_a"], os.environ["port_b"]):
    labels = 'port="%s",type="tap-vnet"' % port
    # Port a receives the requests and sends the replies; port b the opposite.
    expect("dpbridge_port_rx_packets_total{%s}" % labels, n)
    expect("dpbridge_port_rx_bytes_total{%s}" % labels, n * size)
    expect("dpbridge_port_tx_packets_total{%s}" % labels, n)
    expect("dpbridge_port_tx_bytes_total{%s}" % labels, n * size)
    expect("dpbridge_port_flooded_packets_total{%s}" % labels, 0)
    drops = [k for k in after if k.startswith("dpbridge_port_drops_total{%s," % labels)]
    if len(drops) < 8:
        failures.append("%s: only %d drop reasons" % (port, len(drops)))
    for key in drops:
        expect(key, 0)
    if after.get("dpbridge_port_link_up{%s}" % labels) != 1:
        failures.append("%s: link not up" % port)

pmd_keys = [k for k in after if k.startswith("dpbridge_pmd_packets_total{")]
pmd_delta = sum(after[k] - before.get(k, 0.0) for k in pmd_keys)
if pmd_delta != 2 * n:
    failures.append("PMD packets: expected +%d, got +%g" % (2 * n, pmd_delta))
else:
    print("ok: sum of dpbridge_pmd_packets_total +%d" % (2 * n))

# Absolute: the two attaches and the one failed delete of this daemon's life.
for key, want in (('dpbridge_control_requests_total{command="attach",result="ok"}', 2),
                  ('dpbridge_control_requests_total{command="attach",result="error"}', 0),
                  ('dpbridge_control_requests_total{command="port_del",result="error"}', 1)):
    if after.get(key) != want:
        failures.append("%s: expected %d, got %s" % (key, want, after.get(key)))
    else:
        print("ok: %s = %d" % (key, want))

if failures:
    print("\n".join("FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
PY
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited during the test"
echo "PASS: metrics_counts_test ($kPings pings each way counted exactly on both ports)"
