// SPDX-License-Identifier: Apache-2.0
//
// The control protocol's framing and value checks (docs/control-protocol.md).
//
// A request is one JSON object on one line:
//   {"command": "port.add", "args": {"name": "tap0", "type": "tap"}}
// and its reply is one JSON object on one line, either
//   {"ok": true, "result": ...}   or   {"ok": false, "error": "what; what to do"}.
// The functions here parse requests strictly (an unknown top-level key, a
// non-object, a line past kMaxRequestSize is an error) and read typed
// arguments with errors that name the command and the argument.
//
// Thread-safety: pure functions on value types.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "status.h"

namespace dpbridge {

// Longest request line, newline excluded. Longer ones are rejected unread.
inline constexpr size_t kMaxRequestSize = 64 * 1024;

struct Request {
  std::string command;
  nlohmann::json args = nlohmann::json::object();
};

// Parses one request line (without its newline).
[[nodiscard]] Result<Request> ParseRequest(std::string_view line);
// Serialises a request as one line, newline included (the client's side).
[[nodiscard]] std::string FormatRequest(const Request& request);

// Reply lines, newline included.
[[nodiscard]] std::string FormatOk(const nlohmann::json& result);
[[nodiscard]] std::string FormatError(std::string_view message);
// Parses a reply line: its result, or its error message as the status.
[[nodiscard]] Result<nlohmann::json> ParseReply(std::string_view line);

// Rejects arguments other than `allowed`.
[[nodiscard]] Status CheckArgNames(const Request& request,
                                   std::initializer_list<std::string_view> allowed);
[[nodiscard]] Result<std::string> RequiredString(const Request& request, std::string_view key);
[[nodiscard]] Result<std::optional<std::string>> OptionalString(const Request& request,
                                                                std::string_view key);
[[nodiscard]] Result<std::optional<uint64_t>> OptionalUint(const Request& request,
                                                           std::string_view key, uint64_t max);
[[nodiscard]] Result<bool> OptionalBool(const Request& request, std::string_view key);

}  // namespace dpbridge
