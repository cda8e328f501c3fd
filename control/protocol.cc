// SPDX-License-Identifier: Apache-2.0
// Request and reply framing of the control protocol.
#include "protocol.h"

namespace dpbridge {

using nlohmann::json;

namespace {

Status ArgError(const Request& request, std::string_view key, std::string_view expected) {
  return Status::Error(request.command + ": argument '" + std::string(key) + "' must be " +
                       std::string(expected));
}

const json* FindArg(const Request& request, std::string_view key) {
  const auto it = request.args.find(key);
  return it == request.args.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

Result<Request> ParseRequest(std::string_view line) {
  if (line.size() > kMaxRequestSize) {
    return Status::Error("request too large (" + std::to_string(line.size()) + " bytes, limit " +
                         std::to_string(kMaxRequestSize) + "); send one request per line");
  }
  json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Status::Error("malformed request: not valid JSON; send one JSON object per line, "
                         "see docs/control-protocol.md");
  }
  if (!parsed.is_object()) {
    return Status::Error("malformed request: expected a JSON object with \"command\"");
  }
  Request request;
  for (auto& [key, value] : parsed.items()) {
    if (key == "command") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        return Status::Error("malformed request: \"command\" must be a non-empty string");
      }
      request.command = value.get<std::string>();
    } else if (key == "args") {
      if (!value.is_object()) {
        return Status::Error("malformed request: \"args\" must be a JSON object");
      }
      request.args = std::move(value);
    } else {
      return Status::Error("malformed request: unknown key \"" + key +
                           "\"; only \"command\" and \"args\" are allowed");
    }
  }
  if (request.command.empty()) {
    return Status::Error("malformed request: missing \"command\"");
  }
  return request;
}

std::string FormatRequest(const Request& request) {
  json line = {{"command", request.command}, {"args", request.args}};
  return line.dump() + "\n";
}

std::string FormatOk(const json& result) {
  json line = {{"ok", true}, {"result", result}};
  // Replace invalid UTF-8 (e.g. an interface name echoed back) instead of throwing.
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string FormatError(std::string_view message) {
  json line = {{"ok", false}, {"error", std::string(message)}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<json> ParseReply(std::string_view line) {
  json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("ok") ||
      !parsed["ok"].is_boolean()) {
    return Status::Error("malformed reply from dpbridge; is the daemon the same version as "
                         "dpbridgectl?");
  }
  if (!parsed["ok"].get<bool>()) {
    const json& error = parsed["error"];
    return Status::Error(error.is_string() ? error.get<std::string>() : "unknown error");
  }
  return parsed.contains("result") ? parsed["result"] : json();
}

Status CheckArgNames(const Request& request, std::initializer_list<std::string_view> allowed) {
  for (const auto& item : request.args.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || item.key() == name;
    if (!known) {
      return Status::Error(request.command + ": unknown argument '" + item.key() + "'");
    }
  }
  return Status();
}

Result<std::string> RequiredString(const Request& request, std::string_view key) {
  const json* value = FindArg(request, key);
  if (value == nullptr) {
    return Status::Error(request.command + ": missing argument '" + std::string(key) + "'");
  }
  if (!value->is_string()) return ArgError(request, key, "a string");
  return value->get<std::string>();
}

Result<std::optional<std::string>> OptionalString(const Request& request, std::string_view key) {
  const json* value = FindArg(request, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return ArgError(request, key, "a string");
  return std::optional<std::string>(value->get<std::string>());
}

Result<std::optional<uint64_t>> OptionalUint(const Request& request, std::string_view key,
                                             uint64_t max) {
  const json* value = FindArg(request, key);
  if (value == nullptr) return std::optional<uint64_t>();
  if (!value->is_number_unsigned() || value->get<uint64_t>() > max) {
    return ArgError(request, key, "a whole number from 0 to " + std::to_string(max));
  }
  return std::optional<uint64_t>(value->get<uint64_t>());
}

Result<bool> OptionalBool(const Request& request, std::string_view key) {
  const json* value = FindArg(request, key);
  if (value == nullptr) return false;
  if (!value->is_boolean()) return ArgError(request, key, "true or false");
  return value->get<bool>();
}

}  // namespace dpbridge
