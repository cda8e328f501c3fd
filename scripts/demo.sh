#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, start to finish: install what is missing, build, start dpbridge, attach two
# network namespaces the way Docker attaches containers to docker0, ping across, and show
# the FDB, the ports, the PMD statistics and the metrics.
#
# Usage: scripts/demo.sh [--keep]
#   --keep  leave the switch and the namespaces running (stop with: kill $(cat PIDFILE))
# Needs root. Uses 198.18.0.0/24 (RFC 2544's benchmarking range) inside its own namespaces.
set -euo pipefail

cd "$(dirname "$0")/.."
keep=0
[[ ${1:-} == --keep ]] && keep=1

bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
echo "== built: build/control/dpbridge, build/control/dpbridgectl"

work=$(mktemp -d /tmp/dpbridge-demo.XXXXXX)
socket=$work/dpbridge.sock
metrics=127.0.0.1:9417
ns_a=dpb-demo-a
ns_b=dpb-demo-b
daemon_pid=''

ctl() {
  echo "\$ dpbridgectl $*"
  build/control/dpbridgectl --socket "$socket" "$@"
}

cleanup() {
  local status=$?
  if ((keep == 0)); then
    [[ -n $daemon_pid ]] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT

# TAP ports need no hugepages; the switch still runs one PMD thread on core 1.
build/control/dpbridge --no-huge --lcores 0,1 --socket "$socket" --state-dir "$work/state" \
  --metrics "$metrics" >"$work/dpbridge.log" 2>&1 &
daemon_pid=$!
echo "$daemon_pid" >"$work/dpbridge.pid"
for _ in $(seq 100); do
  build/control/dpbridgectl --socket "$socket" show >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/dpbridge.log"; exit 1; }
  sleep 0.1
done
echo "== dpbridge running (pid $daemon_pid, socket $socket, metrics http://$metrics/metrics)"

ctl attach web --netns "$ns_a" --ip 198.18.0.1/24
ctl attach db --netns "$ns_b" --ip 198.18.0.2/24

echo "\$ ip netns exec $ns_a ping -c 3 198.18.0.2"
ip netns exec "$ns_a" ping -c 3 -W 2 198.18.0.2

ctl fdb show
ctl show
ctl pmd-stats

echo "\$ curl -s http://$metrics/metrics | grep ..."
curl -s "http://$metrics/metrics" |
  grep -E '^dpbridge_(port_(rx|tx)_packets_total|fdb_entries|pmd_cycles_per_packet)' || true

echo "== events logged by dpbridge:"
cat "$work/dpbridge.log"
if ((keep)); then
  echo "== left running: dpbridgectl --socket $socket ...; stop with kill $daemon_pid"
fi
