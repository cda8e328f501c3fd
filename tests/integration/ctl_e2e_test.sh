#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End to end through dpbridgectl and the real daemon (--no-huge, TAP ports): attach three
# namespaces, ping across, check the FDB, detach one, kill -9 the daemon, restart it, check
# that attachments, static entries and settings came back and that traffic flows again; then
# every error case: exit code and a one-line message naming the problem.
#
# Usage: ctl_e2e_test.sh BUILD_DIR     (root; cleans up its namespaces and processes)
set -euo pipefail

source "$(dirname "$0")/lib.sh"
dpb_init "${1:?usage: $0 BUILD_DIR}" "e2e"

tag=$$
port_a=e2ea$tag port_b=e2eb$tag port_c=e2ec$tag
ns_a=dpbridge-e2e-a-$tag ns_b=dpbridge-e2e-b-$tag ns_c=dpbridge-e2e-c-$tag
mac_a=02:00:c6:12:00:0a mac_b=02:00:c6:12:00:0b
static_mac=02:00:c6:12:00:99
dpb_track_netns "$ns_a" "$ns_b" "$ns_c"

# Prints the JSON field path $2 (Python subscripts) of the JSON on stdin.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# --- Errors before the daemon runs ---------------------------------------------------------
dpb_expect_error 1 "cannot reach dpbridge at $DPB_WORK/none.sock" \
  "$DPB_CTL" --socket "$DPB_WORK/none.sock" show
grep -qF "is the daemon running? start it with" "$DPB_WORK/err" || dpb_fail "no hint to start it"

printf 'socket = "/tmp/x.sock"\nlcores = 0,1\n' >"$DPB_WORK/bad.toml"
dpb_expect_error 2 "config file $DPB_WORK/bad.toml:2:" \
  "$DPB_DAEMON" --config "$DPB_WORK/bad.toml" --no-huge
printf 'colour = "blue"\n' >"$DPB_WORK/unknown.toml"
dpb_expect_error 2 "unknown key 'colour'" "$DPB_DAEMON" --config "$DPB_WORK/unknown.toml"

# No hugepages where the configuration says they are; and, if this machine has none reserved,
# the plain start-up that needs them.
printf 'hugepage_dir = "%s"\n' "$DPB_WORK" >"$DPB_WORK/huge.toml"
dpb_expect_error 1 "$DPB_WORK is not a hugetlbfs mount" "$DPB_DAEMON" --config \
  "$DPB_WORK/huge.toml" --socket "$DPB_SOCKET" --state-dir "$DPB_STATE"
grep -qF "scripts/setup.sh" "$DPB_WORK/err" && grep -qF -- "--no-huge" "$DPB_WORK/err" ||
  dpb_fail "the hugepage error does not name the fix: $(cat "$DPB_WORK/err")"
if [[ $(awk '/HugePages_Total/ {print $2}' /proc/meminfo) == 0 ]]; then
  dpb_expect_error 1 "no hugepages reserved" "$DPB_DAEMON" --socket "$DPB_SOCKET" \
    --state-dir "$DPB_STATE"
fi
dpb_expect_error 2 "at least two lcores" "$DPB_DAEMON" --no-huge --lcores 0
dpb_pass "start-up errors"

# A corrupt state file stops the daemon and is left as it was.
mkdir -p "$DPB_STATE"
printf '{"version": 1, "ports": [' >"$DPB_STATE/state.json"
dpb_expect_error 1 "state file $DPB_STATE/state.json is corrupt" "$DPB_DAEMON" --no-huge \
  --socket "$DPB_SOCKET" --state-dir "$DPB_STATE"
[[ $(cat "$DPB_STATE/state.json") == '{"version": 1, "ports": [' ]] ||
  dpb_fail "the corrupt state file was changed"
rm "$DPB_STATE/state.json"
dpb_pass "corrupt state file refused and kept"

# --- Attach, ping, FDB -----------------------------------------------------------------------
dpb_start_daemon
[[ $(stat -c %a "$DPB_SOCKET") == 600 ]] || dpb_fail "control socket is not mode 0600"
dpb_ctl attach "$port_a" --netns "$ns_a" --ip 198.18.0.1/24 --mac "$mac_a" >/dev/null
dpb_ctl attach "$port_b" --netns "$ns_b" --ip 198.18.0.2/24 --mac "$mac_b" --mtu 1400 >/dev/null
dpb_ctl attach "$port_c" --netns "$ns_c" --ip 198.18.0.3/24 >/dev/null
ip netns list | grep -qw "$ns_a" || dpb_fail "ip netns does not list $ns_a"
[[ $(ip netns exec "$ns_b" cat "/sys/class/net/$port_b/mtu") == 1400 ]] || dpb_fail "MTU not set"
[[ $(ip netns exec "$ns_a" cat "/sys/class/net/$port_a/address") == "$mac_a" ]] ||
  dpb_fail "MAC not set"

dpb_ping "$ns_a" 198.18.0.2
dpb_ping "$ns_b" 198.18.0.1
dpb_ping "$ns_c" 198.18.0.1
dpb_pass "ping both ways between attached namespaces"

fdb=$(dpb_ctl --json fdb show)
for pair in "$mac_a $port_a" "$mac_b $port_b"; do
  read -r mac port <<<"$pair"
  echo "$fdb" | python3 -c "
import json, sys
rows = [r for r in json.load(sys.stdin) if r['mac'] == '$mac']
sys.exit(0 if len(rows) == 1 and rows[0]['port'] == '$port' and not rows[0]['static'] else 1)" ||
    dpb_fail "fdb show --json does not list $mac on $port: $fdb"
done
[[ $(dpb_ctl --json fdb show --port "$port_a" | json_get '[0]["mac"]') == "$mac_a" ]] ||
  dpb_fail "fdb show --port $port_a"
dpb_pass "fdb lists both MACs on the right ports"

dpb_ctl fdb add "$static_mac" --port "$port_b" >/dev/null
dpb_ctl set aging-time 77 >/dev/null
dpb_ctl set mac-limit 100 --port "$port_b" >/dev/null
dpb_ctl pmd-stats | grep -q "packets received" || dpb_fail "pmd-stats"
dpb_ctl show | grep -q "$port_a" || dpb_fail "show does not list $port_a"

# --- Errors from a running daemon, which stays up --------------------------------------------
dpb_expect_error 1 "port nosuch$tag: no such port" dpb_ctl port del "nosuch$tag"
dpb_expect_error 1 "no such port" dpb_ctl fdb add 02:00:00:00:00:01 --port "nosuch$tag"
dpb_expect_error 1 "already exists" dpb_ctl attach "$port_a" --netns "$ns_a"
dpb_expect_error 1 "already exists" dpb_ctl port add "$port_a" --type tap
dpb_expect_error 1 "bad MAC address '01:00:5e:00:00:01'" \
  dpb_ctl fdb add 01:00:5e:00:00:01 --port "$port_a"
dpb_expect_error 1 "bad MAC address 'zz'" dpb_ctl attach "x$tag" --netns "$ns_a" --mac zz
dpb_expect_error 1 "bad address '198.18.0.9/40'" \
  dpb_ctl attach "x$tag" --netns "$ns_a" --ip 198.18.0.9/40
dpb_expect_error 1 "namespace nosuch-$tag: no such namespace" dpb_ctl netns del "nosuch-$tag"
dpb_expect_error 1 "is attached to it" dpb_ctl netns del "$ns_a"
dpb_expect_error 1 "unknown type 'warp'" dpb_ctl port add "w$tag" --type warp
dpb_expect_error 2 "see \`dpbridgectl --help\`" dpb_ctl port add
dpb_expect_error 2 "see \`dpbridgectl --help\`" dpb_ctl show --json
# A malformed and an oversized request on the raw socket get an error reply each.
reply=$(python3 - "$DPB_SOCKET" <<'PY'
import socket, sys
for payload in (b"this is not json\n", b"x" * 70000):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon closes after its error reply; the reply is still readable
    try:
        print(s.makefile().readline().strip())
    except ConnectionResetError:
        print("connection reset without a reply")
PY
)
[[ $(grep -c '"ok":false' <<<"$reply") == 2 ]] || dpb_fail "raw socket replies: $reply"
dpb_ctl --json show | python3 -c "
import json, sys
c = json.load(sys.stdin)['control']
sys.exit(0 if c['malformed'] >= 1 and c['oversized'] >= 1 else 1)" ||
  dpb_fail "malformed/oversized requests not counted"
dpb_ping "$ns_a" 198.18.0.2
dpb_pass "error cases answered; daemon still forwarding"

# --- Detach, crash, restart ------------------------------------------------------------------
dpb_ctl detach "$port_c" >/dev/null
ip netns list | grep -qw "$ns_c" || dpb_fail "detach removed the namespace"
ip netns exec "$ns_c" ip link show "$port_c" >/dev/null 2>&1 && dpb_fail "$port_c still exists"

dpb_kill9_daemon
dpb_start_daemon
show=$(dpb_ctl --json show)
echo "$show" | python3 -c "
import json, sys
s = json.load(sys.stdin)
ports = {p['name']: p for p in s['ports']}
assert set(ports) == {'$port_a', '$port_b'}, ports.keys()
assert ports['$port_a']['attachment']['netns'] == '$ns_a'
assert ports['$port_b']['attachment']['ip'] == '198.18.0.2/24'
assert ports['$port_b']['mac_limit'] == 100
assert s['settings']['aging_time_s'] == 77
" || dpb_fail "state after restart: $show"
dpb_ctl --json fdb show | python3 -c "
import json, sys
rows = [r for r in json.load(sys.stdin) if r['mac'] == '$static_mac']
sys.exit(0 if rows and rows[0]['static'] and rows[0]['port'] == '$port_b' else 1)" ||
  dpb_fail "static entry not restored"
[[ $(ip netns exec "$ns_b" cat "/sys/class/net/$port_b/mtu") == 1400 ]] ||
  dpb_fail "MTU not restored"
dpb_ping "$ns_a" 198.18.0.2
dpb_ping "$ns_b" 198.18.0.1
dpb_pass "after kill -9 and restart: attachments, static entry, settings back; ping works"

# Attaching into a namespace that exists keeps it.
[[ $(dpb_ctl --json attach "$port_c" --netns "$ns_c" --ip 198.18.0.3/24 |
     json_get '["netns_created"]') == False ]] || dpb_fail "existing namespace reported as created"
dpb_ping "$ns_c" 198.18.0.1

dpb_stop_daemon || dpb_fail "dpbridge exited non-zero after SIGTERM"
[[ ! -e $DPB_SOCKET ]] || dpb_fail "control socket left behind after SIGTERM"
dpb_pass "clean shutdown on SIGTERM"
echo "PASS"
