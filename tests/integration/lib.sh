# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the shell integration tests: source it, then call
#   dpb_init BUILD_DIR TAG      paths of the programs, a private work directory, a cleanup trap
#   dpb_start_daemon [ARGS...]  dpbridge --no-huge on the work dir's socket and state; waits
#                               until it answers (DPB_DAEMON_PID)
#   dpb_start_hugepage_daemon PREFIX  the same on hugepages, EAL file prefix PREFIX
#   dpb_stop_daemon             SIGTERM, then SIGKILL after 10 s; returns the daemon's status
#   dpb_kill9_daemon            SIGKILL, as a crash
#   dpb_ctl ARGS...             dpbridgectl on the test's socket
#   dpb_expect_error CODE TEXT CMD...  CMD must exit with CODE and print one stderr line
#                               containing TEXT
#   dpb_ping NS ADDRESS         ping from namespace NS, retried for up to 5 s
#   dpb_track_netns NS...       namespaces the cleanup deletes
#   dpb_sanitizer_report [LOG]  whether a daemon log holds a sanitizer report (scripts that
#                               run their own daemon call it from their cleanup)
# The cleanup stops a daemon still running with SIGTERM and fails the test if the daemon's
# log holds a sanitizer report.
# Every helper fails the test with `dpb_fail MESSAGE` (one line on stderr, exit 1). Needs root.
# Namespaces and interfaces are named by the caller (include $$ in them); addresses must be
# in 198.18.0.0/15.

DPB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

dpb_fail() {
  echo "FAIL: $*" >&2
  if [[ -n ${DPB_WORK:-} && -f $DPB_WORK/daemon.log ]]; then
    echo "--- last daemon log lines ---" >&2
    tail -n 15 "$DPB_WORK/daemon.log" >&2
  fi
  exit 1
}

dpb_pass() { echo "ok: $*"; }

dpb_init() {
  local build_dir=${1:?usage: dpb_init BUILD_DIR TAG}
  DPB_TAG=${2:?usage: dpb_init BUILD_DIR TAG}
  build_dir=$(cd "$build_dir" && pwd)
  DPB_DAEMON=$build_dir/control/dpbridge
  DPB_CTL=$build_dir/control/dpbridgectl
  [[ $(id -u) -eq 0 ]] || dpb_fail "needs root (namespaces and TAP devices)"
  [[ -x $DPB_DAEMON ]] || dpb_fail "$DPB_DAEMON not built"
  [[ -x $DPB_CTL ]] || dpb_fail "$DPB_CTL not built"
  for tool in ip ping python3; do
    command -v "$tool" >/dev/null || dpb_fail "$tool not installed (scripts/setup.sh installs it)"
  done
  DPB_WORK=$(mktemp -d "/tmp/dpbridge-$DPB_TAG.XXXXXX")
  DPB_SOCKET=$DPB_WORK/dpbridge.sock
  DPB_STATE=$DPB_WORK/state
  DPB_DAEMON_PID=''
  DPB_NETNS=()
  trap dpb_cleanup EXIT
}

dpb_cleanup() {
  local status=$? _
  if [[ -n ${DPB_DAEMON_PID:-} ]]; then
    # A stop by SIGTERM lets a sanitizer build report what it found at exit (leaks).
    kill -TERM "$DPB_DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$DPB_DAEMON_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$DPB_DAEMON_PID" 2>/dev/null || true
    wait "$DPB_DAEMON_PID" 2>/dev/null || true
  fi
  dpb_sanitizer_report && status=1
  local ns
  for ns in "${DPB_NETNS[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  [[ -n ${DPB_WORK:-} ]] && rm -rf "$DPB_WORK"
  exit "$status"
}

# dpb_sanitizer_report [LOG]: true (and says so on stderr) if LOG (default: the daemon's log
# in the work dir) holds an ASan, LSan or UBSan report. In the sanitizer build every shell
# test fails on one, even if the daemon carried on.
dpb_sanitizer_report() {
  local log=${1:-${DPB_WORK:-}/daemon.log}
  local pattern='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
  [[ -f $log ]] || return 1
  grep -qE "$pattern" "$log" || return 1
  echo "FAIL: sanitizer report in $log:" >&2
  grep -m 3 -A 12 -E "$pattern" "$log" >&2
  return 0
}

dpb_track_netns() { DPB_NETNS+=("$@"); }

dpb_ctl() { "$DPB_CTL" --socket "$DPB_SOCKET" "$@"; }

dpb_start_daemon() {
  dpb_launch_daemon --no-huge --metrics 127.0.0.1:0 "$@"
}

# dpbridge on hugepages (vhost-user ports need memory their peer can map), its EAL files
# under PREFIX, which the caller removes from /dev/hugepages at exit.
dpb_start_hugepage_daemon() {
  local prefix=${1:?usage: dpb_start_hugepage_daemon PREFIX}
  grep -q '^HugePages_Total: *[1-9]' /proc/meminfo ||
    dpb_fail "no hugepages reserved; run scripts/setup.sh"
  dpb_launch_daemon --metrics off --lcores 0,1 -- --file-prefix "$prefix" -m 256
}

# Starts dpbridge on the test's socket and state with ARGS and waits until it answers.
dpb_launch_daemon() {
  mkdir -p "$DPB_STATE"
  # In a sanitizer build: leaks of Debian's libraries that dpbridge cannot free are listed,
  # with reasons, in lsan_suppressions.txt.
  LSAN_OPTIONS="suppressions=$DPB_LIB_DIR/lsan_suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
    "$DPB_DAEMON" --socket "$DPB_SOCKET" --state-dir "$DPB_STATE" "$@" \
    >>"$DPB_WORK/daemon.log" 2>&1 &
  DPB_DAEMON_PID=$!
  local _
  for _ in $(seq 150); do
    dpb_ctl show >/dev/null 2>&1 && return 0
    kill -0 "$DPB_DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  DPB_DAEMON_PID=''
  dpb_fail "dpbridge did not start within 15 s"
}

dpb_stop_daemon() {
  local pid=$DPB_DAEMON_PID status=0 _
  [[ -n $pid ]] || return 0
  kill -TERM "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null && dpb_fail "dpbridge ignored SIGTERM for 10 s"
  wait "$pid" || status=$?
  DPB_DAEMON_PID=''
  return "$status"
}

dpb_kill9_daemon() {
  [[ -n $DPB_DAEMON_PID ]] || return 0
  kill -9 "$DPB_DAEMON_PID"
  wait "$DPB_DAEMON_PID" 2>/dev/null || true
  DPB_DAEMON_PID=''
}

dpb_expect_error() {
  local code=$1 text=$2
  shift 2
  local status=0
  "$@" >"$DPB_WORK/out" 2>"$DPB_WORK/err" || status=$?
  [[ $status -eq $code ]] ||
    dpb_fail "'$*' exited $status, expected $code: $(head -c 300 "$DPB_WORK/err")"
  local lines
  lines=$(wc -l <"$DPB_WORK/err")
  [[ $lines -eq 1 ]] || dpb_fail "'$*' printed $lines stderr lines, expected one: $(cat "$DPB_WORK/err")"
  grep -qF -- "$text" "$DPB_WORK/err" ||
    dpb_fail "'$*' said '$(cat "$DPB_WORK/err")', expected it to contain '$text'"
}

dpb_ping() {
  local ns=$1 address=$2 _
  for _ in $(seq 5); do
    ip netns exec "$ns" ping -c 1 -W 1 "$address" >/dev/null 2>&1 && return 0
  done
  dpb_fail "no ping reply from $address in namespace $ns"
}
