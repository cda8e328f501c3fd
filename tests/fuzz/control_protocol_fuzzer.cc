// SPDX-License-Identifier: Apache-2.0
// control_protocol_fuzzer: the control socket's request and reply parsers (control/protocol.h)
// on arbitrary lines. Nothing may throw or crash; an accepted request must survive the
// client's serialisation unchanged; the typed argument readers must answer every argument
// with a value or an error; a reply's error text must reach the client intact.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol.h"

namespace {

using dpbridge::Request;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "control_protocol_fuzzer: %s\n", what);
  std::abort();
}

std::string_view WithoutNewline(const std::string& line) {
  if (line.empty() || line.back() != '\n') Fail("a formatted line does not end in a newline");
  const std::string_view body(line.data(), line.size() - 1);
  if (body.find('\n') != std::string_view::npos) Fail("a formatted line holds a newline");
  return body;
}

void CheckRequest(const Request& request) {
  if (request.command.empty()) Fail("accepted a request without a command");
  if (!request.args.is_object()) Fail("accepted args that are not an object");

  const auto again = dpbridge::ParseRequest(WithoutNewline(dpbridge::FormatRequest(request)));
  if (!again.ok()) Fail("a request does not survive FormatRequest");
  if (again->command != request.command || again->args != request.args) {
    Fail("a request changed through FormatRequest");
  }

  for (const auto& item : request.args.items()) {
    const std::string& key = item.key();
    const bool present = !item.value().is_null();
    const auto text = dpbridge::RequiredString(request, key);
    if (text.ok() != item.value().is_string()) Fail("RequiredString misjudged an argument");
    const auto optional_text = dpbridge::OptionalString(request, key);
    if (optional_text.ok() && present && !optional_text.value()) Fail("OptionalString lost one");
    const auto number = dpbridge::OptionalUint(request, key, 4095);
    if (number.ok() && number.value() && *number.value() > 4095) Fail("OptionalUint past max");
    const auto flag = dpbridge::OptionalBool(request, key);
    if (flag.ok() != (!present || item.value().is_boolean())) Fail("OptionalBool misjudged");
  }
  (void)dpbridge::CheckArgNames(request, {"name", "type", "path", "vlan"});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Inputs stay below libFuzzer's length limit; the size bound is checked once here.
  const std::string huge(dpbridge::kMaxRequestSize + 1, ' ');
  if (dpbridge::ParseRequest(huge).ok()) Fail("accepted a request past kMaxRequestSize");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  const auto request = dpbridge::ParseRequest(line);
  if (request.ok()) {
    CheckRequest(request.value());
  } else if (request.message().empty()) {
    Fail("a rejected request has no error message");
  }

  // The client reads whatever arrives on the socket.
  (void)dpbridge::ParseReply(line);

  // An error message goes out and comes back unchanged when it is ASCII (other bytes may be
  // replaced to keep the line valid UTF-8).
  const std::string message(line);
  const auto echoed = dpbridge::ParseReply(WithoutNewline(dpbridge::FormatError(message)));
  if (echoed.ok()) Fail("an error reply parsed as success");
  bool ascii = true;
  for (unsigned char c : message) ascii = ascii && c < 0x80;
  if (ascii && echoed.message() != message && !message.empty()) {
    Fail("an error message changed on its way to the client");
  }
  if (request.ok()) {
    const auto result = dpbridge::ParseReply(WithoutNewline(dpbridge::FormatOk(request->args)));
    if (!result.ok() || result.value() != request->args) Fail("a result changed on its way");
  }
  return 0;
}
