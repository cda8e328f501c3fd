#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what dpbridge needs on Debian 12 and reserves hugepages. Idempotent: a second run
# changes nothing. Run as root.
#
# Usage: scripts/setup.sh [--no-hugepages]
set -euo pipefail

# The one list of Debian packages the project needs (build, tests, demo, benchmarks).
# Add new dependencies here and nowhere else.
PACKAGES=(
  meson ninja-build pkg-config g++
  dpdk dpdk-dev libdpdk-dev
  libboost-dev prometheus-cpp-dev libnl-route-3-dev nlohmann-json3-dev
  libcli11-dev libtomlplusplus-dev
  libgtest-dev libbenchmark-dev
  iproute2 iputils-ping iperf3 procps
  ethtool                   # ports_test attach_veth, bench/system/container_path.sh
  prometheus                # promtool and the metrics scrape test
  openvswitch-switch-dpdk   # bench/system: the OVS-DPDK anchor
  clang libclang-rt-14-dev  # sanitizers and fuzzers
  curl python3
)

HUGEPAGE_COUNT=1024        # 2 MB pages: 2 GiB in all
HUGEPAGE_MOUNT=/dev/hugepages

want_hugepages=1
for arg in "$@"; do
  case "$arg" in
    --no-hugepages) want_hugepages=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: must run as root (apt-get and hugepages)" >&2
  exit 1
fi

# Install only what is missing; touch the package lists only when something is.
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
fi

# Hugepages: reserve at least HUGEPAGE_COUNT 2 MB pages and mount hugetlbfs.
if ((want_hugepages)); then
  nr_file=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
  current=$(cat "$nr_file")
  if ((current < HUGEPAGE_COUNT)); then
    echo "$HUGEPAGE_COUNT" > "$nr_file"
    current=$(cat "$nr_file")
    ((current >= HUGEPAGE_COUNT)) ||
      echo "setup.sh: warning: only $current of $HUGEPAGE_COUNT hugepages reserved" >&2
  fi
  mkdir -p "$HUGEPAGE_MOUNT"
  if ! mountpoint -q "$HUGEPAGE_MOUNT"; then
    mount -t hugetlbfs -o pagesize=2M none "$HUGEPAGE_MOUNT"
  fi
  echo "setup.sh: hugepages $current x 2 MB on $HUGEPAGE_MOUNT"
fi
