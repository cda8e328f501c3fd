#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real Prometheus server on loopback scrapes dpbridge; its HTTP API must show the
# target up and dpbridge series with values.
#
# Usage: prometheus_scrape_test.sh BUILD_DIR [daemon|fixture]
#   daemon  (default): BUILD_DIR/control/dpbridge --no-huge, with its own socket and
#           state dir; fails if the daemon is not built.
#   fixture: BUILD_DIR/tests/metrics/dpbridge_metrics_fixture, which serves known
#           numbers; checks exact values as Prometheus stored them.
# Everything lives in a temporary directory and is removed, processes included.
set -euo pipefail

build_dir=${1:?usage: $0 BUILD_DIR [daemon|fixture]}
mode=${2:-daemon}
build_dir=$(cd "$build_dir" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null ||
  fail "prometheus not installed (Debian package prometheus; scripts/setup.sh installs it)"
command -v curl >/dev/null || fail "curl not installed (scripts/setup.sh installs it)"
command -v python3 >/dev/null || fail "python3 not installed (scripts/setup.sh installs it)"

case $mode in
  daemon)
    target_bin=$build_dir/control/dpbridge
    [[ -x $target_bin ]] ||
      fail "$target_bin not built: this test scrapes the real daemon (ninja -C $build_dir)"
    ;;
  fixture)
    target_bin=$build_dir/tests/metrics/dpbridge_metrics_fixture
    [[ -x $target_bin ]] || fail "$target_bin not built"
    ;;
  *) fail "unknown mode '$mode' (daemon or fixture)" ;;
esac

work=$(mktemp -d /tmp/dpbridge-promtest.XXXXXX)
target_pid=''
prom_pid=''
cleanup() {
  local status=$?
  for pid in $prom_pid $target_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $prom_pid $target_pid; do
    # Bounded wait, then force: a test never leaves a process behind.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  dpb_sanitizer_report "$work/target.log" && status=1
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# A port the kernel has just handed out; whoever binds it next may still lose a
# race with another process, so each start below is retried on a new port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits up to $2 tenths of a second for `$1` (a command) to succeed.
wait_for() {
  local tries=$2
  while ((tries-- > 0)); do
    eval "$1" && return 0
    sleep 0.1
  done
  return 1
}

alive() { kill -0 "$1" 2>/dev/null; }

# start_on_free_port START_FN PID_VAR PATH LOG TENTHS: runs `START_FN PORT` (which starts
# a process in the background and sets the variable named PID_VAR) on a fresh port until
# http://127.0.0.1:PORT/PATH answers, for at most TENTHS tenths of a second. Retries
# with another port if the first was taken in between. Sets started_port.
start_on_free_port() {
  local start_fn=$1 pid_var=$2 path=$3 log=$4 tenths=$5 port pid
  started_port=''
  for _ in 1 2 3; do
    port=$(free_port)
    "$start_fn" "$port"
    if wait_for "curl -sf -o /dev/null http://127.0.0.1:$port/$path" "$tenths"; then
      started_port=$port
      return 0
    fi
    pid=${!pid_var}
    alive "$pid" && kill "$pid"
    wait "$pid" 2>/dev/null || true
    printf -v "$pid_var" '%s' ''
    grep -qi 'address already in use' "$log" || return 1
  done
  return 1
}

# --- The target: the daemon or the fixture ----------------------------------------
start_target() {
  local port=$1
  case $mode in
    daemon)
      mkdir -p "$work/state"
      "$target_bin" --no-huge --socket "$work/dpbridge.sock" --state-dir "$work/state" \
        --metrics "127.0.0.1:$port" >"$work/target.log" 2>&1 &
      ;;
    fixture)
      "$target_bin" "127.0.0.1:$port" >"$work/target.log" 2>&1 &
      ;;
  esac
  target_pid=$!
}

if ! start_on_free_port start_target target_pid metrics "$work/target.log" 200; then
  cat "$work/target.log" >&2
  fail "$mode did not serve /metrics within 20 s"
fi
metrics_port=$started_port
echo "target ($mode) serving http://127.0.0.1:$metrics_port/metrics"

# --- A real Prometheus server, scraping every second -------------------------------
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: dpbridge
    static_configs:
      - targets: ['127.0.0.1:$metrics_port']
EOF

start_prometheus() {
  prometheus --config.file="$work/prometheus.yml" --web.listen-address="127.0.0.1:$1" \
    --storage.tsdb.path="$work/tsdb" --log.level=warn >"$work/prometheus.log" 2>&1 &
  prom_pid=$!
}

if ! start_on_free_port start_prometheus prom_pid -/ready "$work/prometheus.log" 300; then
  cat "$work/prometheus.log" >&2
  fail "prometheus did not become ready within 30 s"
fi
prom_port=$started_port
api=http://127.0.0.1:$prom_port/api/v1
echo "prometheus ready on 127.0.0.1:$prom_port"

# --- What Prometheus says --------------------------------------------------------
# Prints the health of the one active target ("up", "down", "unknown").
target_health() {
  curl -sf "$api/targets" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
print(targets[0]["health"] if len(targets) == 1 else "targets: %d" % len(targets))
print(targets[0].get("lastError", "") if targets else "", file=sys.stderr)'
}

# Prints "labels value" for each series of the instant query $1, one per line.
query() {
  curl -sf --get "$api/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
reply = json.load(sys.stdin)
assert reply["status"] == "success", reply
for series in reply["data"]["result"]:
    labels = ",".join("%s=%s" % kv for kv in sorted(series["metric"].items())
                      if kv[0] not in ("instance", "job"))
    print(labels, series["value"][1])'
}

health=''
for _ in $(seq 30); do
  health=$(target_health 2>"$work/last_error" || true)
  [[ $health == up ]] && break
  sleep 1
done
[[ $health == up ]] || fail "target health is '$health' after 30 s: $(cat "$work/last_error")"
echo "ok: target 127.0.0.1:$metrics_port is up"

build_info=''
for _ in $(seq 20); do
  build_info=$(query dpbridge_build_info || true)
  [[ -n $build_info ]] && break
  sleep 0.5
done
[[ $build_info =~ ^__name__=dpbridge_build_info,dpdk=DPDK\ [0-9.]+,version=[0-9.]+\ 1$ ]] ||
  fail "dpbridge_build_info: got '$build_info'"
echo "ok: dpbridge_build_info -> $build_info"

# `up` is Prometheus' own verdict on the last scrape.
[[ $(query 'up{job="dpbridge"}') == "__name__=up 1" ]] || fail "up{job=\"dpbridge\"} is not 1"
echo "ok: up{job=\"dpbridge\"} = 1"

expect_value() {
  local got
  got=$(query "$1")
  [[ $got == "$2" ]] || fail "$1: expected '$2', got '$got'"
  echo "ok: $1 = ${2##* }"
}

case $mode in
  fixture)
    # The fixture's known numbers, as Prometheus stored them.
    expect_value 'dpbridge_port_rx_packets_total{port="tap0"}' \
      "__name__=dpbridge_port_rx_packets_total,port=tap0,type=tap 1001"
    expect_value 'dpbridge_port_drops_total{port="vhost1",reason="port_down"}' \
      "__name__=dpbridge_port_drops_total,port=vhost1,reason=port_down,type=vhost-user 42"
    expect_value 'dpbridge_fdb_entries{kind="static"}' "__name__=dpbridge_fdb_entries,kind=static 2"
    expect_value 'dpbridge_control_requests_total{command="port_add",result="ok"}' \
      "__name__=dpbridge_control_requests_total,command=port_add,result=ok 1"
    # Every query of the Grafana dashboard, with its variables filled in, runs on this
    # Prometheus and returns series. Its rates need two scrapes within their 5 s window.
    scrapes=''
    for _ in $(seq 20); do
      scrapes=$(query 'count_over_time(dpbridge_uptime_seconds[5s])' || true)
      [[ ${scrapes##* } =~ ^[0-9]+$ ]] && ((${scrapes##* } >= 2)) && break
      sleep 0.5
    done
    [[ ${scrapes##* } =~ ^[0-9]+$ ]] && ((${scrapes##* } >= 2)) ||
      fail "fewer than two scrapes in 5 s after 10 s of waiting: '$scrapes'"
    dashboard=$(cd "$(dirname "$0")/../.." && pwd)/docs/grafana/dpbridge-dashboard.json
    python3 - "$dashboard" "$api" <<'PY' || fail "a dashboard query failed (above)"
import json, sys, urllib.parse, urllib.request

dashboard, api = sys.argv[1], sys.argv[2]
failed = 0
count = 0
for panel in json.load(open(dashboard))["panels"]:
    for target in panel.get("targets", []):
        expr = target["expr"]
        for name, value in (("$__rate_interval", "5s"), ("$port", ".*"), ("$pmd", ".*")):
            expr = expr.replace(name, value)
        url = api + "/query?" + urllib.parse.urlencode({"query": expr})
        try:
            reply = json.load(urllib.request.urlopen(url, timeout=5))
            ok = reply["status"] == "success" and len(reply["data"]["result"]) > 0
        except Exception as error:  # an HTTP 400 is a PromQL syntax error
            ok, reply = False, str(error)
        count += 1
        if not ok:
            failed += 1
            print("FAIL: panel '%s': %s -> %s" % (panel["title"], expr, reply), file=sys.stderr)
sys.exit(1 if failed or count == 0 else 0)
PY
    echo "ok: every Grafana dashboard query returns series"
    ;;
  daemon)
    # A fresh daemon: no ports, an empty FDB of the default capacity, a live mbuf pool.
    capacity=$(query dpbridge_fdb_capacity)
    [[ $capacity =~ ^__name__=dpbridge_fdb_capacity\ [1-9][0-9]*$ ]] ||
      fail "dpbridge_fdb_capacity: got '$capacity'"
    echo "ok: $capacity"
    expect_value 'dpbridge_fdb_entries{kind="learned"}' \
      "__name__=dpbridge_fdb_entries,kind=learned 0"
    mbufs=$(query dpbridge_mbufs_capacity)
    [[ $mbufs =~ ^__name__=dpbridge_mbufs_capacity\ [1-9][0-9]*$ ]] ||
      fail "dpbridge_mbufs_capacity: got '$mbufs'"
    echo "ok: $mbufs"
    ;;
esac

# Uptime must advance between scrapes: Prometheus really scrapes again.
first=$(query dpbridge_uptime_seconds)
sleep 2.5
second=$(query dpbridge_uptime_seconds)
python3 -c 'import sys; a, b = (float(x.split()[-1]) for x in sys.argv[1:]); sys.exit(b <= a)' \
  "$first" "$second" || fail "dpbridge_uptime_seconds did not advance: '$first' then '$second'"
echo "ok: dpbridge_uptime_seconds advanced (${first##* } -> ${second##* })"

alive "$target_pid" || fail "$mode exited during the test"
echo "PASS: prometheus_scrape_test ($mode)"
