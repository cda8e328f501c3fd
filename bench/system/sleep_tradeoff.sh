#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the PMD's idle back-off bound ([pmd] max_sleep_us) buys and costs: for each bound,
# dpbridge with two namespaces attached (veth + af-xdp, or TAP) measures its CPU with no
# traffic, then its CPU and the ping round trip while one namespace pings the other every
# 10 ms (sparse traffic: the back-off never reaches deep idle). Prints a markdown table.
#
# Usage: bench/system/sleep_tradeoff.sh [--bounds 500,50,0] [--via af-xdp|tap]
#                                       [--seconds S] [--build-dir DIR]
# Needs root; uses 198.18.30.0/24 inside namespaces it makes and deletes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bounds=500,50,0 via=af-xdp seconds=10 build_dir=$root/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --bounds) bounds=$2; shift 2 ;;
    --via) via=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "sleep_tradeoff.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $via == af-xdp || $via == tap ]] || { echo "sleep_tradeoff.sh: --via is af-xdp or tap" >&2; exit 2; }
daemon=$build_dir/control/dpbridge ctl_bin=$build_dir/control/dpbridgectl
[[ -x $daemon && -x $ctl_bin ]] || { echo "sleep_tradeoff.sh: build first (scripts/build.sh)" >&2; exit 2; }

tag=$$ work=$(mktemp -d /tmp/dpb-sleep.XXXXXX)
ns_a=dpbsa-$tag ns_b=dpbsb-$tag
daemon_pid=''
stop_daemon() {
  [[ -n $daemon_pid ]] && { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; } || true
  daemon_pid=''
  for ns in "$ns_a" "$ns_b"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap 'stop_daemon; rm -rf "$work"' EXIT

# CPU seconds (user + system) the daemon has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$daemon_pid/stat"
}

echo "| max_sleep_us | idle CPU, % of a core | CPU during 10 ms pings, % | ping p50 ms | ping p99 ms |"
echo "|---|---|---|---|---|"
IFS=, read -ra bound_list <<<"$bounds"
for bound in "${bound_list[@]}"; do
  printf '[pmd]\nmax_sleep_us = %s\n' "$bound" >"$work/config.toml"
  "$daemon" --config "$work/config.toml" --no-huge --lcores 0,1 --socket "$work/sock" \
    --state-dir "$work/state-$bound" --metrics off >"$work/daemon-$bound.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do "$ctl_bin" --socket "$work/sock" show >/dev/null 2>&1 && break; sleep 0.1; done
  "$ctl_bin" --socket "$work/sock" attach "sa$tag" --netns "$ns_a" --ip 198.18.30.1/24 --via "$via" >/dev/null
  "$ctl_bin" --socket "$work/sock" attach "sb$tag" --netns "$ns_b" --ip 198.18.30.2/24 --via "$via" >/dev/null
  ip netns exec "$ns_a" ping -c 3 -W 2 198.18.30.2 >/dev/null  # learn both addresses
  sleep 2                                                        # reach deep idle

  start=$(cpu_seconds)
  sleep "$seconds"
  idle=$(awk -v a="$start" -v b="$(cpu_seconds)" -v s="$seconds" 'BEGIN{printf "%.1f", (b - a) / s * 100}')

  count=$((seconds * 100))
  start=$(cpu_seconds) began=$(date +%s.%N)
  ip netns exec "$ns_a" ping -i 0.01 -c "$count" 198.18.30.2 2>/dev/null |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' >"$work/rtt-$bound.txt" || true
  busy=$(awk -v a="$start" -v b="$(cpu_seconds)" -v t0="$began" -v t1="$(date +%s.%N)" \
    'BEGIN{printf "%.1f", (b - a) / (t1 - t0) * 100}')
  read -r p50 p99 < <(sort -g "$work/rtt-$bound.txt" |
    awk '{v[NR] = $1} END {if (NR == 0) {print "- -"} else {
      i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
      printf "%.3f %.3f\n", v[i50], v[i99]}}')
  echo "| $bound | $idle | $busy | $p50 | $p99 |"
  stop_daemon
done
echo
echo "Via $via; $seconds s without traffic, then $((seconds * 100)) pings 10 ms apart; CPU of the whole daemon."
