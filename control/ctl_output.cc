// SPDX-License-Identifier: Apache-2.0
// Tables and summaries printed by dpbridgectl.
#include "ctl_output.h"

#include <algorithm>
#include <cstdio>

namespace dpbridge {

using nlohmann::json;

namespace {

std::string Text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_float()) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.1f", value.get<double>());
    return buffer;
  }
  return value.dump();
}

std::string Field(const json& object, const char* key, const char* missing = "-") {
  const auto it = object.find(key);
  return it == object.end() ? missing : Text(*it);
}

std::string Limit(const json& value) {
  return value.is_number() && value.get<uint64_t>() == 0 ? "none" : Text(value);
}

void PrintPorts(const json& ports, std::ostream& out) {
  if (ports.empty()) {
    out << "no ports; add one with `dpbridgectl port add` or `dpbridgectl attach`\n";
    return;
  }
  Table table({"PORT", "TYPE", "LINK", "RXQ/TXQ", "RX_PKTS", "TX_PKTS", "DROPS", "MACS", "LIMIT",
               "DEVICE", "NETNS", "ADDRESS"});
  for (const json& port : ports) {
    const json& counters = port["counters"];
    const json attachment = port.value("attachment", json::object());
    table.AddRow({Field(port, "name"), Field(port, "type"), Field(port, "link"),
                  Field(port, "rx_queues") + "/" + Field(port, "tx_queues"),
                  Field(counters, "rx_packets"), Field(counters, "tx_packets"),
                  Field(counters, "drops_total"), Field(port, "learned_macs"),
                  Limit(port["mac_limit"]), Field(port, "device"), Field(attachment, "netns"),
                  Field(attachment, "ip")});
  }
  table.Print(out);
}

void PrintShow(const json& result, std::ostream& out) {
  const json& settings = result["settings"];
  const json& fdb = result["fdb"];
  out << "dpbridge: " << result["ports"].size() << " ports; FDB " << Text(fdb["learned"])
      << " learned + " << Text(fdb["static"]) << " static (max "
      << Text(settings["fdb_max_entries"]) << "); aging " << Text(settings["aging_time_s"])
      << " s; default MAC limit " << Limit(settings["default_mac_limit"]) << "\n";
  out << "state: " << Text(result["state_file"]) << "\n";
  if (result.contains("control")) {
    const json& control = result["control"];
    out << "control: " << Text(control["requests"]) << " requests, "
        << Text(control["requests_failed"]) << " failed (" << Text(control["malformed"])
        << " malformed, " << Text(control["oversized"]) << " oversized)\n";
  }
  if (!result["configured_not_running"].empty()) {
    out << "configured but not running (see the daemon's log): ";
    for (const json& name : result["configured_not_running"]) out << Text(name) << " ";
    out << "\n";
  }
  out << "\n";
  PrintPorts(result["ports"], out);
}

void PrintFdb(const json& rows, std::ostream& out) {
  Table table({"MAC", "VLAN", "PORT", "AGE_S", "TYPE"});
  for (const json& row : rows) {
    table.AddRow({Field(row, "mac"), Field(row, "vlan"), Field(row, "port"),
                  row["static"].get<bool>() ? "-" : Field(row, "age_s"),
                  row["static"].get<bool>() ? "static" : "learned"});
  }
  table.Print(out);
  out << rows.size() << (rows.size() == 1 ? " entry\n" : " entries\n");
}

// In the manner of `ovs-appctl dpif-netdev/pmd-stats-show`.
void PrintPmdStats(const json& rows, std::ostream& out) {
  for (const json& pmd : rows) {
    const double busy = pmd["busy_cycles"].get<double>();
    const double idle = pmd["idle_cycles"].get<double>();
    const double total = busy + idle;
    char line[160];
    out << "pmd thread " << Text(pmd["pmd"]) << " (lcore " << Text(pmd["lcore"]) << "):\n";
    out << "  packets received: " << Text(pmd["packets"]) << "\n";
    out << "  iterations: " << Text(pmd["iterations"]) << " (" << Text(pmd["sleeps"])
        << " sleeps, " << Text(pmd["interrupt_waits"]) << " of them waiting for RX interrupts)\n";
    std::snprintf(line, sizeof(line), "  idle cycles: %.0f (%.2f%%)\n", idle,
                  total > 0 ? 100.0 * idle / total : 0.0);
    out << line;
    std::snprintf(line, sizeof(line), "  processing cycles: %.0f (%.2f%%)\n", busy,
                  total > 0 ? 100.0 * busy / total : 0.0);
    out << line;
    if (pmd["cycles_per_packet"].is_null()) {
      out << "  avg cycles per packet: - (no packets)\n";
    } else {
      std::snprintf(line, sizeof(line), "  avg cycles per packet: %.2f (%.0f/%.0f)\n",
                    pmd["cycles_per_packet"].get<double>(), total, pmd["packets"].get<double>());
      out << line;
      std::snprintf(line, sizeof(line), "  avg processing cycles per packet: %.2f (%.0f/%.0f)\n",
                    pmd["busy_cycles_per_packet"].get<double>(), busy,
                    pmd["packets"].get<double>());
      out << line;
    }
    out << "  learn requests: " << Text(pmd["learn_requests"]) << " (queue full "
        << Text(pmd["learn_queue_full"]) << ")\n";
    out << "  rx queues:";
    for (const json& queue : pmd["rx_queues"]) out << " " << Text(queue);
    out << (pmd["rx_queues"].empty() ? " none\n" : "\n");
  }
}

void PrintNetns(const json& rows, std::ostream& out) {
  Table table({"NAMESPACE", "ATTACHED PORTS"});
  for (const json& row : rows) {
    std::string ports;
    for (const json& port : row["ports"]) {
      if (!ports.empty()) ports += ',';
      ports += Text(port);
    }
    table.AddRow({Field(row, "name"), ports.empty() ? "-" : ports});
  }
  table.Print(out);
}

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void PrintHuman(const std::string& command, const json& result, std::ostream& out) {
  if (command == "show") return PrintShow(result, out);
  if (command == "port.list") return PrintPorts(result, out);
  if (command == "fdb.show") return PrintFdb(result, out);
  if (command == "pmd-stats") return PrintPmdStats(result, out);
  if (command == "netns.list") return PrintNetns(result, out);
  if (command == "port.add" || command == "attach") {
    out << "port " << Field(result, "name") << " added (" << Field(result, "type") << ", "
        << Field(result, "device") << ", link " << Field(result, "link") << ")";
    if (result.contains("attachment")) {
      const json& a = result["attachment"];
      out << " in namespace " << Field(a, "netns")
          << (result.value("netns_created", false) ? " (created)" : "") << ", MAC "
          << Field(a, "mac") << ", address " << Field(a, "ip", "none");
    }
    out << "\n";
    return;
  }
  if (command == "port.del") return void(out << "port " << Text(result["deleted"]) << " deleted\n");
  if (command == "detach") {
    out << "port " << Text(result["detached"]) << " detached; namespace " << Text(result["netns"])
        << " kept (remove it with `dpbridgectl netns del " << Text(result["netns"]) << "`)\n";
    return;
  }
  if (command == "netns.add") {
    return void(out << "namespace " << Text(result["added"]) << " added\n");
  }
  if (command == "netns.del") {
    return void(out << "namespace " << Text(result["deleted"]) << " deleted\n");
  }
  if (command == "fdb.add") {
    out << "static entry " << Text(result["mac"]) << " vlan " << Text(result["vlan"]) << " -> port "
        << Text(result["port"]) << "\n";
    return;
  }
  if (command == "fdb.del") {
    return void(out << "entry " << Text(result["deleted"]) << " vlan " << Text(result["vlan"])
                    << " deleted\n");
  }
  if (command == "fdb.flush") {
    return void(out << Text(result["flushed"]) << " learned entries flushed\n");
  }
  if (command == "set.aging-time") {
    return void(out << "aging time " << Text(result["aging_time_s"]) << " s\n");
  }
  if (command == "set.mac-limit") {
    out << "MAC limit " << Limit(result["mac_limit"])
        << (result.contains("port") ? " on port " + Text(result["port"]) : " (default for ports)")
        << "\n";
    return;
  }
  out << result.dump(2) << "\n";
}

}  // namespace dpbridge
