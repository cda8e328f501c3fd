#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peer faults (issue 7): while two namespaces ping each other through dpbridge, a vhost-user
# peer is killed, a TAP interface is deleted from under the switch and a namespace is deleted.
# Each faulty port must go down (logged, visible in dpbridgectl), the ping between the healthy
# ports must lose nothing, and a returning vhost-user peer must be served again.
#
# Usage: peer_faults_test.sh BUILD_DIR. Needs root and 2 MB hugepages (scripts/setup.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

dpb_init "${1:?usage: peer_faults_test.sh BUILD_DIR}" peer-faults
tag=$$
PEER_PID=''
prefix_daemon="dpbf$tag"
prefix_peer="dpbfg$tag"

faults_cleanup() {
  local status=$?
  set +e
  [[ -n $PEER_PID ]] && kill -9 "$PEER_PID" 2>/dev/null && wait "$PEER_PID" 2>/dev/null || true
  rm -f /dev/hugepages/"$prefix_daemon"map_* /dev/hugepages/"$prefix_peer"*map_* 2>/dev/null || true
  rm -rf /var/run/dpdk/"$prefix_daemon" /var/run/dpdk/"$prefix_peer"* 2>/dev/null || true
  # dpb_cleanup exits with the status it finds in $?: the test's, not ours.
  (exit "$status")
  dpb_cleanup
}
trap faults_cleanup EXIT

command -v dpdk-testpmd >/dev/null || dpb_fail "dpdk-testpmd not installed (package dpdk)"

link_of() {
  dpb_ctl --json port list | python3 -c '
import json, sys
data = json.load(sys.stdin)
ports = data["ports"] if isinstance(data, dict) else data
print(next(p["link"] for p in ports if p["name"] == sys.argv[1]))' "$1"
}

wait_link() {
  local _
  for _ in $(seq 100); do
    [[ $(link_of "$1") == "$2" ]] && return 0
    sleep 0.1
  done
  dpb_fail "port $1: link not $2 after 10 s"
}

# A vhost-user peer: testpmd, one virtio-user port, receiving only; `start tx_first`
# from its command FIFO sends 32 frames.
start_peer() {
  local run=$1
  rm -f "$DPB_WORK/peer.in"
  mkfifo "$DPB_WORK/peer.in"
  stdbuf -oL dpdk-testpmd -l 0,1 --main-lcore 1 --no-pci --single-file-segments \
    --file-prefix "$prefix_peer$run" -m 256 --log-level='*:warning' \
    --vdev "net_virtio_user0,path=$DPB_WORK/vhost.sock,mac=02:00:00:00:30:01" -- \
    -i --forward-mode=rxonly --nb-cores=1 --eth-peer=0,ff:ff:ff:ff:ff:ff \
    <"$DPB_WORK/peer.in" >"$DPB_WORK/peer$run.log" 2>&1 &
  PEER_PID=$!
  exec {peer_fd}>"$DPB_WORK/peer.in"
}

dpb_start_hugepage_daemon "$prefix_daemon"

ns_a="dpbfa-$tag" ns_b="dpbfb-$tag" ns_c="dpbfc-$tag" ns_d="dpbfd-$tag"
dpb_track_netns "$ns_a" "$ns_b" "$ns_c" "$ns_d"
dpb_ctl attach "fa$tag" --netns "$ns_a" --ip 198.18.30.1/24 >/dev/null
dpb_ctl attach "fb$tag" --netns "$ns_b" --ip 198.18.30.2/24 >/dev/null
dpb_ctl attach "fc$tag" --netns "$ns_c" --ip 198.18.30.3/24 >/dev/null
dpb_ctl attach "fd$tag" --netns "$ns_d" --ip 198.18.30.4/24 >/dev/null
dpb_ctl port add vh --type vhost-user --path "$DPB_WORK/vhost.sock" >/dev/null
start_peer 1
wait_link vh up
dpb_ping "$ns_a" 198.18.30.2

# Healthy traffic for the whole fault sequence: 150 pings, 40 ms apart (6 s).
ip netns exec "$ns_a" ping -c 150 -i 0.04 -W 1 198.18.30.2 >"$DPB_WORK/ping.log" 2>&1 &
ping_pid=$!
sleep 0.5

# Fault 1: the vhost-user peer dies.
kill -9 "$PEER_PID"
wait "$PEER_PID" 2>/dev/null || true
PEER_PID=''
exec {peer_fd}>&-
wait_link vh down
dpb_pass "vhost-user peer killed: port vh down"

# Fault 2: a TAP interface deleted from under the switch (inside its namespace).
ip -n "$ns_c" link del "fc$tag"
wait_link "fc$tag" down
dpb_pass "TAP interface deleted: port fc$tag down"

# Fault 3: a namespace deleted with its TAP interface in it.
ip netns del "$ns_d"
wait_link "fd$tag" down
dpb_pass "namespace deleted: port fd$tag down"

wait "$ping_pid" || true
received=$(grep -oE '[0-9]+ received' "$DPB_WORK/ping.log" | awk '{print $1}')
echo "healthy ping during the faults: $received of 150 replies"
[[ $received -eq 150 ]] || dpb_fail "traffic between healthy ports was interrupted: $(tail -n 2 "$DPB_WORK/ping.log")"
dpb_pass "no loss between the healthy ports during the faults"

grep -q "port vh: link down" "$DPB_WORK/daemon.log" || dpb_fail "no 'port vh: link down' event in the log"
dpb_pass "faults logged as events"

# The peer returns: the port comes up again and carries its frames.
rx_before=$(dpb_ctl --json port list | python3 -c '
import json, sys
data = json.load(sys.stdin)
ports = data["ports"] if isinstance(data, dict) else data
print(next(p["counters"]["rx_packets"] for p in ports if p["name"] == "vh"))')
start_peer 2
wait_link vh up
sleep 0.5
echo "start tx_first 1" >&"$peer_fd"
for _ in $(seq 50); do
  rx_after=$(dpb_ctl --json port list | python3 -c '
import json, sys
data = json.load(sys.stdin)
ports = data["ports"] if isinstance(data, dict) else data
print(next(p["counters"]["rx_packets"] for p in ports if p["name"] == "vh"))')
  ((rx_after >= rx_before + 32)) && break
  sleep 0.1
done
((rx_after >= rx_before + 32)) || dpb_fail "returning peer: vh received $((rx_after - rx_before)) frames, expected 32"
dpb_pass "returning vhost-user peer served again ($((rx_after - rx_before)) frames received)"
dpb_ping "$ns_b" 198.18.30.1
kill -0 "$DPB_DAEMON_PID" || dpb_fail "dpbridge died"
