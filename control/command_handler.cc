// SPDX-License-Identifier: Apache-2.0
// The control commands: validation, Switch and namespace calls, saving.
#include "command_handler.h"

#include <algorithm>
#include <cinttypes>
#include <unistd.h>

#include "dpbridge/drop_reason.h"
#include "log.h"
#include "validation.h"

namespace dpbridge {

using nlohmann::json;

namespace {

Logger ctl_log("ctl");


json CountersJson(const PortCountersSnapshot& c) {
  json drops = json::object();
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    drops[std::string(kDropReasonNames[i])] = c.drops[i];
  }
  return {{"rx_packets", c.rx_packets}, {"rx_bytes", c.rx_bytes},
          {"tx_packets", c.tx_packets}, {"tx_bytes", c.tx_bytes},
          {"flooded_packets", c.flooded_packets},
          {"segmented_sends", c.segmented_sends}, {"drops", drops},
          {"drops_total", c.TotalDrops()}};
}

}  // namespace


CommandHandler::CommandHandler(Switch& bridge, const StateStore& store, const NetnsManager& netns,
                               SavedState state)
    : bridge_(bridge), store_(store), netns_(netns), state_(std::move(state)) {
  methods_ = {
      {"show", &CommandHandler::Show},
      {"port.add", &CommandHandler::PortAdd},
      {"port.del", &CommandHandler::PortDel},
      {"port.list", &CommandHandler::PortList},
      {"attach", &CommandHandler::Attach},
      {"detach", &CommandHandler::Detach},
      {"netns.list", &CommandHandler::NetnsList},
      {"netns.add", &CommandHandler::NetnsAdd},
      {"netns.del", &CommandHandler::NetnsDel},
      {"fdb.show", &CommandHandler::FdbShow},
      {"fdb.add", &CommandHandler::FdbAdd},
      {"fdb.del", &CommandHandler::FdbDel},
      {"fdb.flush", &CommandHandler::FdbFlush},
      {"set.aging-time", &CommandHandler::SetAgingTime},
      {"set.mac-limit", &CommandHandler::SetMacLimit},
      {"pmd-stats", &CommandHandler::PmdStats},
  };
}

Result<json> CommandHandler::Handle(const Request& request) {
  const auto it = methods_.find(request.command);
  if (it == methods_.end()) {
    return Status::Error("unknown command '" + request.command +
                         "'; see docs/control-protocol.md for the list");
  }
  return (this->*(it->second))(request);
}

Status CommandHandler::Save() {
  Status saved = store_.Save(state_);
  if (!saved.ok()) {
    ctl_log.Log(LogLevel::kError, "%s", saved.message().c_str());
    return Status::Error("applied but not saved: " + saved.message() +
                         "; the change is lost at restart unless the state directory is fixed");
  }
  ctl_log.Log(LogLevel::kInfo, "config saved to %s", store_.path().c_str());
  return saved;
}

std::vector<std::string> CommandHandler::Restore() {
  std::vector<std::string> problems;
  const auto note = [&](const Status& status) {
    if (!status.ok()) problems.push_back(status.message());
  };

  if (state_.settings.aging_time_s) note(bridge_.SetAgingTime(*state_.settings.aging_time_s));
  if (state_.settings.default_mac_limit) {
    note(bridge_.SetMacLimit(*state_.settings.default_mac_limit));
  }
  for (const PortSpec& spec : state_.ports) {
    Result<PortInfo> added = bridge_.AddPort(spec);
    if (!added.ok()) note(added.status());
  }
  for (const Attachment& attachment : state_.attachments) {
    Result<PortInfo> connected = Connect(attachment, /*restoring=*/true);
    if (!connected.ok()) note(connected.status());
  }
  for (const auto& [port, limit] : state_.settings.port_mac_limits) {
    note(bridge_.SetMacLimit(limit, port));
  }
  for (const StaticFdbEntry& entry : state_.static_fdb) {
    note(bridge_.FdbAddStatic(entry.mac, entry.vlan, entry.port));
  }
  return problems;
}

Result<PortInfo> CommandHandler::Connect(const Attachment& attachment, bool restoring) {
  if (!netns_.Exists(attachment.netns)) {
    if (Status added = netns_.Add(attachment.netns); !added.ok()) return added;
    ctl_log.Log(LogLevel::kInfo, "namespace %s: created", attachment.netns.c_str());
  }
  const bool tap = attachment.via == PortType::kTap || attachment.via == PortType::kTapVnet;
  if (!tap) return ConnectVeth(attachment, restoring);
  PortSpec spec;
  spec.name = attachment.port;
  spec.type = attachment.via;
  spec.iface = attachment.port;
  spec.mac = attachment.mac;
  spec.mtu = attachment.mtu;
  Result<PortInfo> added = bridge_.AddPort(spec);
  if (!added.ok()) return added.status();

  LinkSettings settings;
  settings.mac = attachment.mac;
  settings.mtu = attachment.mtu;
  settings.ip = attachment.ip;
  Status status = netns_.MoveLink(spec.iface, attachment.netns);
  if (status.ok()) status = netns_.ConfigureLink(attachment.netns, spec.iface, settings);
  Result<std::function<bool()>> probe = status.ok()
                                            ? netns_.MakeLinkProbe(attachment.netns, spec.iface)
                                            : Result<std::function<bool()>>(status);
  if (!probe.ok()) {
    (void)bridge_.DelPort(spec.name);
    return Status::Error("attach " + spec.name + ": " + probe.message());
  }
  bridge_.SetLinkProbe(spec.name, std::move(probe.value()));
  ctl_log.Log(LogLevel::kInfo, "port %s: attached to namespace %s (%s%s)", spec.name.c_str(),
              attachment.netns.c_str(), attachment.mac.ToString().c_str(),
              attachment.ip ? (", " + attachment.ip->ToString()).c_str() : "");
  return bridge_.FindPort(spec.name).value_or(added.value());
}

// A veth pair: the host end, named as the port, becomes an af-xdp or af-packet port; the
// other end is created under a passing name, moved into the namespace and renamed there.
Result<PortInfo> CommandHandler::ConnectVeth(const Attachment& attachment, bool restoring) {
  const std::string& host_end = attachment.port;
  if (restoring) {
    Result<bool> removed = netns_.DeleteLink(host_end, "veth");
    if (!removed.ok()) return removed.status();
  }
  // Ours alone (the daemon's pid); one left by a crash between create and move goes first.
  const std::string passing_name = "dpbv" + std::to_string(getpid());
  (void)netns_.DeleteLink(passing_name, "veth");
  if (Status added = netns_.AddVethPair(host_end, passing_name, attachment.mtu); !added.ok()) {
    return Status::Error("attach " + attachment.port + ": " + added.message());
  }
  LinkSettings settings;
  settings.mac = attachment.mac;
  settings.mtu = attachment.mtu;
  settings.ip = attachment.ip;
  settings.rename = attachment.port;
  settings.no_tx_checksum_offload = true;
  Status status = netns_.MoveLink(passing_name, attachment.netns);
  if (status.ok()) status = netns_.ConfigureLink(attachment.netns, passing_name, settings);

  PortSpec spec;
  spec.name = attachment.port;
  spec.type = attachment.via;
  spec.iface = host_end;
  spec.mtu = attachment.mtu;
  Result<PortInfo> added = status.ok() ? bridge_.AddPort(spec) : Result<PortInfo>(status);
  Result<std::function<bool()>> probe =
      added.ok() ? netns_.MakeLinkProbe(attachment.netns, attachment.port)
                 : Result<std::function<bool()>>(added.status());
  if (!probe.ok()) {
    if (added.ok()) (void)bridge_.DelPort(spec.name);
    (void)netns_.DeleteLink(host_end, "veth");  // takes the other end with it
    return Status::Error("attach " + spec.name + ": " + probe.message());
  }
  bridge_.SetLinkProbe(spec.name, std::move(probe.value()));
  ctl_log.Log(LogLevel::kInfo, "port %s: attached to namespace %s through a veth pair (%s, %s%s)",
              spec.name.c_str(), attachment.netns.c_str(),
              std::string(PortTypeName(attachment.via)).c_str(),
              attachment.mac.ToString().c_str(),
              attachment.ip ? (", " + attachment.ip->ToString()).c_str() : "");
  return bridge_.FindPort(spec.name).value_or(added.value());
}

json CommandHandler::PortJson(const PortInfo& info) const {
  json port = PortSpecToJson(info.spec);
  port["index"] = info.index;
  // A tap-vnet port is no DPDK device.
  port["dpdk_port"] = info.spec.type == PortType::kTapVnet ? json(nullptr) : json(info.dpdk_port);
  port["device"] = info.device_name;
  port["link"] = info.link_up ? "up" : "down";
  port["rx_queues"] = info.rx_queues;
  port["tx_queues"] = info.tx_queues;
  port["learned_macs"] = info.learned_macs;
  port["mac_limit"] = info.mac_limit;
  port["counters"] = CountersJson(info.counters);
  if (info.spec.type == PortType::kTapVnet) {
    port["offloads"] = info.offloads;
    port["offloaded_frames"] = info.offloaded_frames;
  }
  if (const Attachment* attachment = state_.FindAttachment(info.spec.name)) {
    port["attachment"] = AttachmentToJson(*attachment);
  }
  return port;
}

Result<json> CommandHandler::Show(const Request& request) {
  if (Status status = CheckArgNames(request, {}); !status.ok()) return status;
  json ports = json::array();
  for (const PortInfo& info : bridge_.ListPorts()) ports.push_back(PortJson(info));
  const MacTableStats fdb = bridge_.fdb().Stats();
  json result = {
      {"ports", ports},
      {"settings",
       {{"aging_time_s", bridge_.aging_time_s()},
        {"default_mac_limit", bridge_.default_mac_limit()},
        {"fdb_max_entries", bridge_.fdb().max_entries()}}},
      {"fdb",
       {{"learned", fdb.learned_entries},
        {"static", fdb.static_entries},
        {"capacity", fdb.capacity}}},
      {"state_file", store_.path()},
  };
  // Configured ports that are not running (their restore failed).
  json missing = json::array();
  for (const PortSpec& spec : state_.ports) {
    if (!bridge_.FindPort(spec.name)) missing.push_back(spec.name);
  }
  for (const Attachment& attachment : state_.attachments) {
    if (!bridge_.FindPort(attachment.port)) missing.push_back(attachment.port);
  }
  result["configured_not_running"] = missing;
  if (server_stats_ != nullptr) {
    result["control"] = {{"connections", server_stats_->connections},
                         {"connections_refused", server_stats_->connections_refused},
                         {"requests", server_stats_->requests},
                         {"requests_failed", server_stats_->requests_failed},
                         {"malformed", server_stats_->malformed},
                         {"oversized", server_stats_->oversized},
                         {"slow_clients_dropped", server_stats_->slow_clients_dropped}};
  }
  return result;
}

Result<json> CommandHandler::PortAdd(const Request& request) {
  Result<PortSpec> spec = PortSpecFromJson(request.args);
  if (!spec.ok()) return Status::Error("port add: " + spec.message());
  if (state_.FindAttachment(spec->name) != nullptr) {
    return Status::Error("port " + spec->name + " already exists (attached); pick another name");
  }
  Result<PortInfo> added = bridge_.AddPort(spec.value());
  if (!added.ok()) return added.status();
  state_.ForgetPort(spec->name);
  state_.ports.push_back(spec.value());
  if (Status saved = Save(); !saved.ok()) return saved;
  return PortJson(added.value());
}

Result<json> CommandHandler::PortDel(const Request& request) {
  if (Status status = CheckArgNames(request, {"name"}); !status.ok()) return status;
  Result<std::string> name = RequiredString(request, "name");
  if (!name.ok()) return name.status();
  if (const Attachment* attachment = state_.FindAttachment(name.value())) {
    return Status::Error("port " + name.value() + " is attached to namespace " +
                         attachment->netns + "; use `dpbridgectl detach " + name.value() + "`");
  }
  const bool configured = std::any_of(state_.ports.begin(), state_.ports.end(),
                                      [&](const PortSpec& s) { return s.name == name.value(); });
  if (bridge_.FindPort(name.value()) || !configured) {
    if (Status deleted = bridge_.DelPort(name.value()); !deleted.ok()) return deleted;
  }
  state_.ForgetPort(name.value());
  if (Status saved = Save(); !saved.ok()) return saved;
  return json{{"deleted", name.value()}};
}

Result<json> CommandHandler::PortList(const Request& request) {
  if (Status status = CheckArgNames(request, {}); !status.ok()) return status;
  json ports = json::array();
  for (const PortInfo& info : bridge_.ListPorts()) ports.push_back(PortJson(info));
  return ports;
}

Result<json> CommandHandler::Attach(const Request& request) {
  if (Status status = CheckArgNames(request, {"name", "netns", "ip", "mac", "mtu", "via"});
      !status.ok()) {
    return status;
  }
  Result<std::string> name = RequiredString(request, "name");
  Result<std::string> netns = RequiredString(request, "netns");
  Result<std::optional<std::string>> ip = OptionalString(request, "ip");
  Result<std::optional<std::string>> mac = OptionalString(request, "mac");
  Result<std::optional<uint64_t>> mtu = OptionalUint(request, "mtu", 65535);
  Result<std::optional<std::string>> via = OptionalString(request, "via");
  for (const Status* status : {&name.status(), &netns.status(), &ip.status(), &mac.status(),
                               &mtu.status(), &via.status()}) {
    if (!status->ok()) return *status;
  }

  Attachment attachment;
  attachment.port = name.value();
  attachment.netns = netns.value();
  if (Status valid = ValidateNetnsName(attachment.netns); !valid.ok()) return valid;
  if (ip.value()) {
    Result<Ipv4Cidr> cidr = ParseCidr(*ip.value());
    if (!cidr.ok()) return cidr.status();
    attachment.ip = cidr.value();
  }
  if (mac.value()) {
    Result<MacAddress> parsed = ParseUnicastMac(*mac.value());
    if (!parsed.ok()) return parsed.status();
    attachment.mac = parsed.value();
  } else {
    attachment.mac = RandomLocalMac();
  }
  attachment.mtu = static_cast<uint32_t>(mtu.value().value_or(0));
  if (via.value()) {
    const std::optional<PortType> link = ParsePortType(*via.value());
    if (!link || !IsAttachLink(*link)) {
      return Status::Error("via '" + *via.value() + "': use tap-vnet, tap, af-xdp or af-packet");
    }
    attachment.via = *link;
  }

  PortSpec spec;
  spec.name = attachment.port;
  spec.mtu = attachment.mtu;
  if (const std::string problem = ValidatePortSpec(spec); !problem.empty()) {
    return Status::Error(problem);
  }
  if (bridge_.FindPort(attachment.port) || state_.FindAttachment(attachment.port)) {
    return Status::Error("port " + attachment.port + " already exists; pick another name or " +
                         "`dpbridgectl detach " + attachment.port + "` first");
  }

  const bool created_netns = !netns_.Exists(attachment.netns);
  Result<PortInfo> connected = Connect(attachment);
  if (!connected.ok()) return connected.status();
  state_.ForgetPort(attachment.port);
  state_.attachments.push_back(attachment);
  if (Status saved = Save(); !saved.ok()) return saved;
  json result = PortJson(connected.value());
  result["netns_created"] = created_netns;
  return result;
}

Result<json> CommandHandler::Detach(const Request& request) {
  if (Status status = CheckArgNames(request, {"name"}); !status.ok()) return status;
  Result<std::string> name = RequiredString(request, "name");
  if (!name.ok()) return name.status();
  const Attachment* attachment = state_.FindAttachment(name.value());
  if (attachment == nullptr) {
    return Status::Error("port " + name.value() + ": not attached to a namespace; see " +
                         "`dpbridgectl show` (plain ports go with `port del`)");
  }
  const std::string netns = attachment->netns;
  const PortType via = attachment->via;
  if (bridge_.FindPort(name.value())) {
    if (Status deleted = bridge_.DelPort(name.value()); !deleted.ok()) return deleted;
  }
  if (via != PortType::kTap && via != PortType::kTapVnet) {
    // The pair goes with its host end; it is gone already if the namespace was deleted.
    Result<bool> removed = netns_.DeleteLink(name.value(), "veth");
    if (!removed.ok()) ctl_log.Log(LogLevel::kWarning, "%s", removed.message().c_str());
  }
  state_.ForgetPort(name.value());
  if (Status saved = Save(); !saved.ok()) return saved;
  return json{{"detached", name.value()}, {"netns", netns}, {"netns_kept", true}};
}

Result<json> CommandHandler::NetnsList(const Request& request) {
  if (Status status = CheckArgNames(request, {}); !status.ok()) return status;
  Result<std::vector<std::string>> names = netns_.List();
  if (!names.ok()) return names.status();
  json list = json::array();
  for (const std::string& name : names.value()) {
    json ports = json::array();
    for (const Attachment& a : state_.attachments) {
      if (a.netns == name) ports.push_back(a.port);
    }
    list.push_back({{"name", name}, {"ports", ports}});
  }
  return list;
}

Result<json> CommandHandler::NetnsAdd(const Request& request) {
  if (Status status = CheckArgNames(request, {"name"}); !status.ok()) return status;
  Result<std::string> name = RequiredString(request, "name");
  if (!name.ok()) return name.status();
  if (Status added = netns_.Add(name.value()); !added.ok()) return added;
  ctl_log.Log(LogLevel::kInfo, "namespace %s: created", name.value().c_str());
  return json{{"added", name.value()}};
}

Result<json> CommandHandler::NetnsDel(const Request& request) {
  if (Status status = CheckArgNames(request, {"name"}); !status.ok()) return status;
  Result<std::string> name = RequiredString(request, "name");
  if (!name.ok()) return name.status();
  for (const Attachment& a : state_.attachments) {
    if (a.netns == name.value()) {
      return Status::Error("namespace " + name.value() + ": port " + a.port +
                           " is attached to it; run `dpbridgectl detach " + a.port + "` first");
    }
  }
  if (Status deleted = netns_.Delete(name.value()); !deleted.ok()) return deleted;
  ctl_log.Log(LogLevel::kInfo, "namespace %s: deleted", name.value().c_str());
  return json{{"deleted", name.value()}};
}

Result<uint16_t> CommandHandler::VlanArg(const Request& request) {
  Result<std::optional<uint64_t>> vlan = OptionalUint(request, "vlan", kMaxVlanId);
  if (!vlan.ok()) return vlan.status();
  return static_cast<uint16_t>(vlan.value().value_or(0));
}

Result<json> CommandHandler::FdbShow(const Request& request) {
  if (Status status = CheckArgNames(request, {"port"}); !status.ok()) return status;
  Result<std::optional<std::string>> port = OptionalString(request, "port");
  if (!port.ok()) return port.status();
  const std::string filter = port.value().value_or("");
  if (!filter.empty() && !bridge_.FindPort(filter)) {
    return Status::Error("port " + filter + ": no such port; see `dpbridgectl port list`");
  }
  json rows = json::array();
  for (const FdbRow& row : bridge_.FdbDump(filter)) {
    rows.push_back({{"mac", row.mac.ToString()}, {"vlan", row.vlan}, {"port", row.port},
                    {"age_s", row.age_s}, {"static", row.is_static}});
  }
  return rows;
}

Result<json> CommandHandler::FdbAdd(const Request& request) {
  if (Status status = CheckArgNames(request, {"mac", "port", "vlan"}); !status.ok()) return status;
  Result<std::string> mac_text = RequiredString(request, "mac");
  Result<std::string> port = RequiredString(request, "port");
  Result<uint16_t> vlan = VlanArg(request);
  for (const Status* status : {&mac_text.status(), &port.status(), &vlan.status()}) {
    if (!status->ok()) return *status;
  }
  Result<MacAddress> mac = ParseUnicastMac(mac_text.value());
  if (!mac.ok()) return mac.status();
  if (!bridge_.FindPort(port.value())) {
    return Status::Error("port " + port.value() + ": no such port; see `dpbridgectl port list`");
  }
  if (Status added = bridge_.FdbAddStatic(mac.value(), vlan.value(), port.value()); !added.ok()) {
    return added;
  }
  std::erase_if(state_.static_fdb, [&](const StaticFdbEntry& e) {
    return e.mac == mac.value() && e.vlan == vlan.value();
  });
  state_.static_fdb.push_back({mac.value(), vlan.value(), port.value()});
  if (Status saved = Save(); !saved.ok()) return saved;
  return json{{"mac", mac->ToString()}, {"vlan", vlan.value()}, {"port", port.value()}};
}

Result<json> CommandHandler::FdbDel(const Request& request) {
  if (Status status = CheckArgNames(request, {"mac", "vlan"}); !status.ok()) return status;
  Result<std::string> mac_text = RequiredString(request, "mac");
  if (!mac_text.ok()) return mac_text.status();
  Result<uint16_t> vlan = VlanArg(request);
  if (!vlan.ok()) return vlan.status();
  Result<MacAddress> mac = ParseUnicastMac(mac_text.value());
  if (!mac.ok()) return mac.status();
  if (Status deleted = bridge_.FdbDel(mac.value(), vlan.value()); !deleted.ok()) return deleted;
  const size_t forgotten = std::erase_if(state_.static_fdb, [&](const StaticFdbEntry& e) {
    return e.mac == mac.value() && e.vlan == vlan.value();
  });
  if (forgotten > 0) {
    if (Status saved = Save(); !saved.ok()) return saved;
  }
  return json{{"deleted", mac->ToString()}, {"vlan", vlan.value()}};
}

Result<json> CommandHandler::FdbFlush(const Request& request) {
  if (Status status = CheckArgNames(request, {"port"}); !status.ok()) return status;
  Result<std::optional<std::string>> port = OptionalString(request, "port");
  if (!port.ok()) return port.status();
  Result<size_t> flushed = bridge_.FdbFlush(port.value().value_or(""));
  if (!flushed.ok()) return flushed.status();
  return json{{"flushed", flushed.value()}};
}

Result<json> CommandHandler::SetAgingTime(const Request& request) {
  if (Status status = CheckArgNames(request, {"seconds"}); !status.ok()) return status;
  Result<std::optional<uint64_t>> seconds = OptionalUint(request, "seconds", UINT32_MAX);
  if (!seconds.ok()) return seconds.status();
  if (!seconds.value()) return Status::Error("set aging-time: missing argument 'seconds'");
  const auto value = static_cast<uint32_t>(*seconds.value());
  if (Status set = bridge_.SetAgingTime(value); !set.ok()) return set;
  state_.settings.aging_time_s = value;
  if (Status saved = Save(); !saved.ok()) return saved;
  return json{{"aging_time_s", value}};
}

Result<json> CommandHandler::SetMacLimit(const Request& request) {
  if (Status status = CheckArgNames(request, {"limit", "port"}); !status.ok()) return status;
  Result<std::optional<uint64_t>> limit = OptionalUint(request, "limit", UINT32_MAX);
  Result<std::optional<std::string>> port = OptionalString(request, "port");
  if (!limit.ok()) return limit.status();
  if (!port.ok()) return port.status();
  if (!limit.value()) return Status::Error("set mac-limit: missing argument 'limit'");
  const auto value = static_cast<uint32_t>(*limit.value());
  const std::string port_name = port.value().value_or("");
  if (Status set = bridge_.SetMacLimit(value, port_name); !set.ok()) return set;
  if (port_name.empty()) {
    state_.settings.default_mac_limit = value;
  } else {
    state_.settings.port_mac_limits[port_name] = value;
  }
  if (Status saved = Save(); !saved.ok()) return saved;
  json result = {{"mac_limit", value}};
  if (!port_name.empty()) result["port"] = port_name;
  return result;
}

Result<json> CommandHandler::PmdStats(const Request& request) {
  if (Status status = CheckArgNames(request, {}); !status.ok()) return status;
  json rows = json::array();
  for (const PmdStatsRow& row : bridge_.PmdStats()) {
    const PmdCountersSnapshot& c = row.counters;
    const uint64_t total = c.busy_cycles + c.idle_cycles;
    json pmd = {{"pmd", row.pmd_id},
                {"lcore", row.lcore},
                {"packets", c.rx_packets},
                {"busy_cycles", c.busy_cycles},
                {"idle_cycles", c.idle_cycles},
                {"iterations", c.iterations},
                {"sleeps", c.sleeps},
                {"interrupt_waits", c.interrupt_waits},
                {"learn_requests", c.learn_requests},
                {"learn_queue_full", c.learn_queue_full},
                {"rx_queues", row.rx_queues}};
    pmd["busy_percent"] = total == 0 ? 0.0 : 100.0 * static_cast<double>(c.busy_cycles) / total;
    pmd["cycles_per_packet"] = c.rx_packets == 0 ? json(nullptr)
                                                 : json(static_cast<double>(total) / c.rx_packets);
    pmd["busy_cycles_per_packet"] =
        c.rx_packets == 0 ? json(nullptr) : json(static_cast<double>(c.busy_cycles) / c.rx_packets);
    rows.push_back(pmd);
  }
  return rows;
}

}  // namespace dpbridge
