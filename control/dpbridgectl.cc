// SPDX-License-Identifier: Apache-2.0
// dpbridgectl: the command-line client of the dpbridge control socket.
// Every command becomes one request (docs/control-protocol.md); the reply is
// printed as a table (ctl_output.h) or, with --json, as JSON.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "control_client.h"
#include "ctl_output.h"
#include "protocol.h"

namespace {

using nlohmann::json;

constexpr int kReplyTimeoutMs = 30000;
constexpr const char* kDefaultSocket = "/run/dpbridge/dpbridge.sock";

// The request a parsed command line stands for, built by the callbacks of
// the subcommands.
struct Invocation {
  dpbridge::Request request;
};

// Adds a string option that goes into args[key] when given.
CLI::Option* StringArg(CLI::App* command, const std::string& flag, const char* key,
                       Invocation* call, const std::string& help) {
  return command->add_option_function<std::string>(
      flag, [call, key](const std::string& value) { call->request.args[key] = value; }, help);
}

CLI::Option* UintArg(CLI::App* command, const std::string& flag, const char* key,
                     Invocation* call, const std::string& help) {
  return command->add_option_function<uint64_t>(
      flag, [call, key](const uint64_t& value) { call->request.args[key] = value; }, help);
}

// A subcommand that sends `command`.
CLI::App* Command(CLI::App* parent, const std::string& name, const std::string& command,
                  Invocation* call, const std::string& help) {
  CLI::App* sub = parent->add_subcommand(name, help);
  sub->preparse_callback([call, command](size_t) { call->request.command = command; });
  return sub;
}

void BuildCommands(CLI::App& app, Invocation* call) {
  Command(&app, "show", "show", call, "ports, counters and settings");

  CLI::App* port = app.add_subcommand("port", "add, delete and list ports");
  port->require_subcommand(1);
  CLI::App* add = Command(port, "add", "port.add", call, "add a port");
  StringArg(add, "name", "name", call, "port name (1-15 of A-Za-z0-9_.-)")->required();
  StringArg(add, "--type", "type", call, "tap-vnet|tap|vhost-user|af-packet|af-xdp|ring|pci")
      ->required();
  StringArg(add, "--path", "path", call, "vhost-user: socket path");
  add->add_flag_callback("--client", [call] { call->request.args["client"] = true; },
                         "vhost-user: connect to the peer's socket");
  StringArg(add, "--iface", "iface", call, "tap: interface name; af-packet/af-xdp: interface");
  StringArg(add, "--mac", "mac", call, "tap: interface MAC");
  UintArg(add, "--mtu", "mtu", call, "MTU");
  UintArg(add, "--queues", "queues", call, "queue pairs");
  StringArg(add, "--pci", "pci_address", call, "pci: PCI address, e.g. 0000:00:04.0");
  CLI::App* del = Command(port, "del", "port.del", call, "delete a port");
  StringArg(del, "name", "name", call, "port name")->required();
  Command(port, "list", "port.list", call, "list ports");

  CLI::App* attach = Command(&app, "attach", "attach", call,
                             "link a namespace (created if missing) to the switch: a TAP port "
                             "moved into it, or a veth pair with an af-xdp/af-packet host end");
  StringArg(attach, "name", "name", call, "port and interface name")->required();
  StringArg(attach, "--netns", "netns", call, "namespace")->required();
  StringArg(attach, "--ip", "ip", call, "IPv4 address with prefix, e.g. 198.18.0.1/24");
  StringArg(attach, "--mac", "mac", call, "interface MAC (default: random, then kept)");
  UintArg(attach, "--mtu", "mtu", call, "interface MTU");
  StringArg(attach, "--via", "via", call,
            "tap-vnet (default), tap, af-xdp or af-packet: how the namespace is linked");
  CLI::App* detach = Command(&app, "detach", "detach", call,
                             "delete an attached port (the namespace is kept)");
  StringArg(detach, "name", "name", call, "port name")->required();

  CLI::App* netns = app.add_subcommand("netns", "network namespaces (as `ip netns` sees them)");
  netns->require_subcommand(1);
  Command(netns, "list", "netns.list", call, "list namespaces");
  for (const char* verb : {"add", "del"}) {
    CLI::App* sub = Command(netns, verb, std::string("netns.") + verb, call,
                            std::string(verb) + " a namespace");
    StringArg(sub, "name", "name", call, "namespace")->required();
  }

  CLI::App* fdb = app.add_subcommand("fdb", "the forwarding database");
  fdb->require_subcommand(1);
  CLI::App* show = Command(fdb, "show", "fdb.show", call, "list entries");
  StringArg(show, "--port", "port", call, "only this port");
  CLI::App* fdb_add = Command(fdb, "add", "fdb.add", call, "add a static entry");
  StringArg(fdb_add, "mac", "mac", call, "MAC address")->required();
  StringArg(fdb_add, "--port", "port", call, "port")->required();
  UintArg(fdb_add, "--vlan", "vlan", call, "VLAN id (default 0)");
  CLI::App* fdb_del = Command(fdb, "del", "fdb.del", call, "delete an entry");
  StringArg(fdb_del, "mac", "mac", call, "MAC address")->required();
  UintArg(fdb_del, "--vlan", "vlan", call, "VLAN id (default 0)");
  CLI::App* flush = Command(fdb, "flush", "fdb.flush", call, "remove learned entries");
  StringArg(flush, "--port", "port", call, "only this port");

  CLI::App* set = app.add_subcommand("set", "settings");
  set->require_subcommand(1);
  CLI::App* aging = Command(set, "aging-time", "set.aging-time", call, "FDB aging time");
  UintArg(aging, "seconds", "seconds", call, "seconds")->required();
  CLI::App* limit = Command(set, "mac-limit", "set.mac-limit", call,
                            "learned MACs per port (0: none)");
  UintArg(limit, "limit", "limit", call, "addresses")->required();
  StringArg(limit, "--port", "port", call, "this port only (default: every port)");

  Command(&app, "pmd-stats", "pmd-stats", call, "per PMD thread: packets and cycles");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("dpbridgectl: control a running dpbridge", "dpbridgectl");
  std::string socket_path = kDefaultSocket;
  bool as_json = false;
  app.add_option("--socket", socket_path, std::string("control socket [") + kDefaultSocket + "]");
  app.add_flag("--json", as_json, "print the reply as JSON (for scripts)");
  app.require_subcommand(1);
  Invocation call;
  BuildCommands(app, &call);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fprintf(stderr, "dpbridgectl: %s; see `dpbridgectl --help` (global options go before "
                 "the command)\n", message.c_str());
    return 2;
  }

  const dpbridge::ControlClient client(socket_path);
  dpbridge::Result<json> result = client.Call(call.request, kReplyTimeoutMs);
  if (!result.ok()) {
    std::fprintf(stderr, "dpbridgectl: %s\n", result.message().c_str());
    return 1;
  }
  if (as_json) {
    std::cout << result.value().dump(2) << "\n";
  } else {
    dpbridge::PrintHuman(call.request.command, result.value(), std::cout);
  }
  return 0;
}
