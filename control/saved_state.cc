// SPDX-License-Identifier: Apache-2.0
// SavedState and its JSON form.
#include "saved_state.h"

#include <algorithm>

namespace dpbridge {

using nlohmann::json;

namespace {

// Reads typed fields of one JSON object, remembering the first problem.
class FieldReader {
 public:
  FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) Fail("", "must be a JSON object");
  }

  void String(const char* key, std::string* out, bool required = false) {
    const json* value = Find(key, required);
    if (value == nullptr) return;
    if (!value->is_string()) return Fail(key, "must be a string");
    *out = value->get<std::string>();
  }
  template <typename T>
  void Uint(const char* key, T* out, uint64_t max, bool required = false) {
    const json* value = Find(key, required);
    if (value == nullptr) return;
    if (!value->is_number_unsigned() || value->get<uint64_t>() > max) {
      return Fail(key, "must be a whole number from 0 to " + std::to_string(max));
    }
    *out = static_cast<T>(value->get<uint64_t>());
  }
  void Bool(const char* key, bool* out) {
    const json* value = Find(key, false);
    if (value == nullptr) return;
    if (!value->is_boolean()) return Fail(key, "must be true or false");
    *out = value->get<bool>();
  }
  void Mac(const char* key, std::optional<MacAddress>* out, bool required = false) {
    std::string text;
    String(key, &text, required);
    if (text.empty() || !ok()) return;
    Result<MacAddress> mac = ParseUnicastMac(text);
    if (!mac.ok()) return Fail(key, mac.message());
    *out = mac.value();
  }
  // Accepts `key` without reading it (the caller reads it itself).
  void Allow(const char* key) { seen_.emplace_back(key); }
  // Rejects keys other than the ones read or allowed so far.
  void NoOthers() {
    if (!ok() || !object_.is_object()) return;
    for (const auto& item : object_.items()) {
      if (std::find(seen_.begin(), seen_.end(), item.key()) == seen_.end()) {
        return Fail(item.key(), "unknown key");
      }
    }
  }
  void Fail(const std::string& key, const std::string& why) {
    if (status_.ok()) status_ = Status::Error(where_ + (key.empty() ? "" : "." + key) + ": " + why);
  }
  [[nodiscard]] bool ok() const { return status_.ok(); }
  [[nodiscard]] const Status& status() const { return status_; }

 private:
  const json* Find(const char* key, bool required) {
    seen_.emplace_back(key);
    if (!ok() || !object_.is_object()) return nullptr;
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (required) Fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  const json& object_;
  std::string where_;
  std::vector<std::string> seen_;
  Status status_;
};

const json& ArrayOrEmpty(const json& object, const char* key, Status* status) {
  static const json kEmpty = json::array();
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return kEmpty;
  if (!it->is_array() && status->ok()) {
    *status = Status::Error(std::string(key) + ": must be a list");
  }
  return it->is_array() ? *it : kEmpty;
}

}  // namespace

const Attachment* SavedState::FindAttachment(const std::string& port) const {
  for (const Attachment& a : attachments) {
    if (a.port == port) return &a;
  }
  return nullptr;
}

void SavedState::ForgetPort(const std::string& port) {
  std::erase_if(ports, [&](const PortSpec& s) { return s.name == port; });
  std::erase_if(attachments, [&](const Attachment& a) { return a.port == port; });
  std::erase_if(static_fdb, [&](const StaticFdbEntry& e) { return e.port == port; });
  settings.port_mac_limits.erase(port);
}

json PortSpecToJson(const PortSpec& spec) {
  json object = {{"name", spec.name}, {"type", std::string(PortTypeName(spec.type))}};
  if (!spec.path.empty()) object["path"] = spec.path;
  if (spec.client) object["client"] = true;
  if (!spec.iface.empty()) object["iface"] = spec.iface;
  if (spec.mac) object["mac"] = spec.mac->ToString();
  if (spec.mtu != 0) object["mtu"] = spec.mtu;
  if (!spec.pci_address.empty()) object["pci_address"] = spec.pci_address;
  if (spec.queues != 1) object["queues"] = spec.queues;
  return object;
}

Result<PortSpec> PortSpecFromJson(const json& object) {
  PortSpec spec;
  FieldReader reader(object, "port");
  std::string type;
  reader.String("name", &spec.name, /*required=*/true);
  reader.String("type", &type, /*required=*/true);
  reader.String("path", &spec.path);
  reader.Bool("client", &spec.client);
  reader.String("iface", &spec.iface);
  reader.Mac("mac", &spec.mac);
  reader.Uint("mtu", &spec.mtu, 65535);
  reader.String("pci_address", &spec.pci_address);
  reader.Uint("queues", &spec.queues, 1024);
  reader.NoOthers();
  if (!reader.ok()) return reader.status();

  const std::optional<PortType> parsed_type = ParsePortType(type);
  if (!parsed_type) {
    return Status::Error("port " + spec.name + ": unknown type '" + type +
                         "'; use tap-vnet, tap, vhost-user, af-packet, af-xdp, ring or pci");
  }
  spec.type = *parsed_type;
  if (const std::string problem = ValidatePortSpec(spec); !problem.empty()) {
    return Status::Error(problem);
  }
  return spec;
}

bool IsAttachLink(PortType type) {
  return type == PortType::kTap || type == PortType::kTapVnet || type == PortType::kAfXdp ||
         type == PortType::kAfPacket;
}

json AttachmentToJson(const Attachment& attachment) {
  json object = {{"port", attachment.port},
                 {"netns", attachment.netns},
                 {"mac", attachment.mac.ToString()}};
  if (attachment.ip) object["ip"] = attachment.ip->ToString();
  if (attachment.mtu != 0) object["mtu"] = attachment.mtu;
  object["via"] = std::string(PortTypeName(attachment.via));
  return object;
}

json StateToJson(const SavedState& state) {
  json ports = json::array();
  for (const PortSpec& spec : state.ports) ports.push_back(PortSpecToJson(spec));
  json attachments = json::array();
  for (const Attachment& a : state.attachments) attachments.push_back(AttachmentToJson(a));
  json entries = json::array();
  for (const StaticFdbEntry& e : state.static_fdb) {
    entries.push_back({{"mac", e.mac.ToString()}, {"vlan", e.vlan}, {"port", e.port}});
  }
  json settings = json::object();
  if (state.settings.aging_time_s) settings["aging_time_s"] = *state.settings.aging_time_s;
  if (state.settings.default_mac_limit) {
    settings["default_mac_limit"] = *state.settings.default_mac_limit;
  }
  settings["port_mac_limits"] = state.settings.port_mac_limits;
  return {{"version", kStateVersion},   {"ports", ports},          {"attachments", attachments},
          {"static_fdb", entries},      {"settings", settings}};
}

Result<SavedState> StateFromJson(const json& object) {
  if (!object.is_object()) return Status::Error("top level: must be a JSON object");
  SavedState state;
  FieldReader top(object, "top level");
  int version = 0;
  top.Uint("version", &version, 1000, /*required=*/true);
  if (top.ok() && version != kStateVersion) {
    return Status::Error("version " + std::to_string(version) + " is not supported (expected " +
                         std::to_string(kStateVersion) + ")");
  }
  for (const char* key : {"ports", "attachments", "static_fdb", "settings"}) {
    top.Allow(key);
  }
  top.NoOthers();
  if (!top.ok()) return top.status();

  Status status;
  const json& ports = ArrayOrEmpty(object, "ports", &status);
  for (size_t i = 0; i < ports.size() && status.ok(); ++i) {
    Result<PortSpec> spec = PortSpecFromJson(ports[i]);
    if (!spec.ok()) return Status::Error("ports[" + std::to_string(i) + "]: " + spec.message());
    state.ports.push_back(spec.value());
  }

  const json& attachments = ArrayOrEmpty(object, "attachments", &status);
  for (size_t i = 0; i < attachments.size() && status.ok(); ++i) {
    Attachment a;
    FieldReader reader(attachments[i], "attachments[" + std::to_string(i) + "]");
    std::string ip;
    std::optional<MacAddress> mac;
    reader.String("port", &a.port, true);
    reader.String("netns", &a.netns, true);
    reader.String("ip", &ip);
    reader.Mac("mac", &mac, true);
    reader.Uint("mtu", &a.mtu, 65535);
    std::string via = "tap";  // state files written before veth links had no "via"
    reader.String("via", &via);
    reader.NoOthers();
    if (reader.ok()) {
      const std::optional<PortType> link = ParsePortType(via);
      if (!link || !IsAttachLink(*link)) {
        reader.Fail("via", "'" + via + "' is not tap-vnet, tap, af-xdp or af-packet");
      } else {
        a.via = *link;
      }
    }
    if (reader.ok()) {
      PortSpec spec;
      spec.name = a.port;
      if (const std::string problem = ValidatePortSpec(spec); !problem.empty()) {
        reader.Fail("port", problem);
      }
    }
    if (reader.ok() && !ValidateNetnsName(a.netns).ok()) reader.Fail("netns", "bad name");
    if (reader.ok() && !ip.empty()) {
      Result<Ipv4Cidr> cidr = ParseCidr(ip);
      if (!cidr.ok()) reader.Fail("ip", cidr.message());
      if (cidr.ok()) a.ip = cidr.value();
    }
    if (!reader.ok()) return reader.status();
    a.mac = *mac;
    state.attachments.push_back(a);
  }

  const json& entries = ArrayOrEmpty(object, "static_fdb", &status);
  for (size_t i = 0; i < entries.size() && status.ok(); ++i) {
    StaticFdbEntry e;
    FieldReader reader(entries[i], "static_fdb[" + std::to_string(i) + "]");
    std::optional<MacAddress> mac;
    reader.Mac("mac", &mac, true);
    reader.Uint("vlan", &e.vlan, kMaxVlanId);
    reader.String("port", &e.port, true);
    reader.NoOthers();
    if (!reader.ok()) return reader.status();
    e.mac = *mac;
    state.static_fdb.push_back(e);
  }
  if (!status.ok()) return status;

  if (const auto it = object.find("settings"); it != object.end() && !it->is_null()) {
    FieldReader reader(*it, "settings");
    uint32_t aging = 0;
    uint32_t limit = 0;
    const bool has_aging = it->is_object() && it->contains("aging_time_s");
    const bool has_limit = it->is_object() && it->contains("default_mac_limit");
    reader.Uint("aging_time_s", &aging, UINT32_MAX);
    reader.Uint("default_mac_limit", &limit, UINT32_MAX);
    reader.Allow("port_mac_limits");
    reader.NoOthers();
    if (!reader.ok()) return reader.status();
    if (has_aging) state.settings.aging_time_s = aging;
    if (has_limit) state.settings.default_mac_limit = limit;
    if (const auto limits = it->find("port_mac_limits"); limits != it->end()) {
      if (!limits->is_object()) return Status::Error("settings.port_mac_limits: must be an object");
      for (const auto& item : limits->items()) {
        if (!item.value().is_number_unsigned() || item.value().get<uint64_t>() > UINT32_MAX) {
          return Status::Error("settings.port_mac_limits." + item.key() +
                               ": must be a whole number");
        }
        state.settings.port_mac_limits[item.key()] = item.value().get<uint32_t>();
      }
    }
  }
  return state;
}

}  // namespace dpbridge
