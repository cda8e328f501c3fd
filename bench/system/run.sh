#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The side-by-side system benchmark (issue 6) in one command: testpmd io, OVS-DPDK and
# dpbridge between two vhost-user ports, one PMD core each, the same testpmd generator,
# switches alternating round by round. Prints a markdown table and writes it to a file.
#
# Usage: bench/system/run.sh [--window S] [--rounds N] [--sizes 64,1518]
#                            [--switches testpmd-io,ovs,dpbridge] [--build-dir DIR] [--out F]
#        bench/system/run.sh --help     (all options)
# Quick check: bench/system/run.sh --window 5 --rounds 1
# Needs root, 2 cores and 2 GiB of 2 MB hugepages (scripts/setup.sh reserves them).
# Everything it starts is ended at exit and its hugepage files removed (trap below).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "run.sh: must run as root (hugepages, vhost-user sockets)" >&2
  exit 1
fi
for arg in "$@"; do
  [[ $arg == -h || $arg == --help ]] && exec python3 "$here/system_bench.py" --help
done

bash "$repo/scripts/setup.sh" >&2
run_dir=$(mktemp -d /tmp/dpb-sysbench.XXXXXX)

# Backstop for whatever system_bench.py could not stop itself (it was killed, or it failed).
cleanup() {
  local status=$?
  if [[ -f $run_dir/pids ]]; then
    while read -r pid; do
      kill -TERM "$pid" 2>/dev/null || true
    done < "$run_dir/pids"
    sleep 1
    while read -r pid; do
      kill -KILL "$pid" 2>/dev/null || true
    done < "$run_dir/pids"
  fi
  if [[ -f $run_dir/prefixes ]]; then
    while read -r prefix; do
      rm -f /dev/hugepages/"$prefix"map_*
      rm -rf /var/run/dpdk/"$prefix"
    done < "$run_dir/prefixes"
  fi
  if ((status == 0)); then
    rm -rf "$run_dir"
  else
    echo "run.sh: failed (status $status); logs kept in $run_dir" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$repo"
PYTHONDONTWRITEBYTECODE=1 python3 "$here/system_bench.py" "$@" --run-dir "$run_dir"
