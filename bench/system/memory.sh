#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Memory of dpbridge (issue 6): resident memory and hugepage memory with about 1 K and about
# 1 M learned FDB entries. For each size, starts dpbridge with two vhost-user ports, lets
# mac_flowgen circulate frames over N MAC pairs (2N addresses) until the FDB holds them,
# then reads VmRSS (/proc) and the size of the hugepage files of dpbridge's file prefix.
#
# Usage: bench/system/memory.sh [--build-dir DIR]. Needs root, hugepages and a built tree.
set -euo pipefail

build_dir=build
[[ ${1:-} == --build-dir ]] && build_dir=$2
cd "$(dirname "$0")/../.."
daemon=$build_dir/control/dpbridge
ctl_bin=$build_dir/control/dpbridgectl
flowgen=$build_dir/bench/system/mac_flowgen
for binary in "$daemon" "$ctl_bin" "$flowgen"; do
  [[ -x $binary ]] || { echo "memory.sh: $binary not built (scripts/build.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/dpb-memory.XXXXXX)
daemon_pid='' gen_pid=''
cleanup() {
  [[ -n $gen_pid ]] && kill "$gen_pid" 2>/dev/null && wait "$gen_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -f /dev/hugepages/dpbmem*map_* 2>/dev/null
  rm -rf /var/run/dpdk/dpbmem* "$work"
  true
}
trap cleanup EXIT

ctl() { "$ctl_bin" --socket "$work/s" "$@"; }
learned() { ctl --json show | python3 -c 'import json,sys; print(json.load(sys.stdin)["fdb"]["learned"])'; }

echo "| Learned FDB entries | dpbridge resident memory (VmRSS) | hugepage memory in use | FDB table size |"
echo "|---|---|---|---|"
for pairs in 512 524288; do
  rm -rf "$work/st" "$work"/*.sock
  "$daemon" --socket "$work/s" --state-dir "$work/st" --metrics off --lcores 0,1 \
    -- --file-prefix dpbmem >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do ctl show >/dev/null 2>&1 && break; sleep 0.1; done
  ctl port add m0 --type vhost-user --path "$work/m0.sock" >/dev/null
  ctl port add m1 --type vhost-user --path "$work/m1.sock" >/dev/null
  "$flowgen" -l 0 --no-pci --single-file-segments --file-prefix dpbmemgen -m 512 \
    --log-level='*:warning' --vdev "net_virtio_user0,path=$work/m0.sock" \
    --vdev "net_virtio_user1,path=$work/m1.sock" -- --pairs "$pairs" --seconds 0 \
    >"$work/gen.log" 2>&1 &
  gen_pid=$!
  want=$((pairs * 2))
  for _ in $(seq 300); do
    (($(learned) >= want)) && break
    sleep 0.2
  done
  entries=$(learned)
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
  huge_kb=$(du -k -c /dev/hugepages/dpbmemmap_* 2>/dev/null | tail -n 1 | awk '{print $1}')
  table_mb=$(ctl --json show | python3 -c '
import json, sys
d = json.load(sys.stdin)["settings"]["fdb_max_entries"]
print(d * 2 * 16 // (1 << 20))')
  capacity=$(ctl --json show |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["settings"]["fdb_max_entries"])')
  echo "| $entries | $((rss_kb / 1024)) MiB | $((${huge_kb:-0} / 1024)) MiB |" \
    "$table_mb MiB (allocated once for $capacity entries) |"
  kill "$gen_pid"; wait "$gen_pid" 2>/dev/null || true; gen_pid=''
  kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=''
  rm -f /dev/hugepages/dpbmem*map_*
done
