// SPDX-License-Identifier: Apache-2.0
// Tests of control/protocol.h: request parsing, replies, typed arguments.
#include "protocol.h"

#include <gtest/gtest.h>

namespace dpbridge {
namespace {

using nlohmann::json;

TEST(ParseRequestTest, AcceptsCommandWithAndWithoutArgs) {
  Result<Request> request = ParseRequest(R"({"command":"port.del","args":{"name":"tap0"}})");
  ASSERT_TRUE(request.ok()) << request.message();
  EXPECT_EQ(request->command, "port.del");
  EXPECT_EQ(request->args["name"], "tap0");

  request = ParseRequest(R"({"command":"show"})");
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(request->args.is_object());
  EXPECT_TRUE(request->args.empty());
}

TEST(ParseRequestTest, RejectsMalformedLines) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"show", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {"\"show\"", "expected a JSON object"},
      {"{}", "missing \"command\""},
      {R"({"command":""})", "non-empty string"},
      {R"({"command":7})", "non-empty string"},
      {R"({"command":"show","args":[]})", "\"args\" must be a JSON object"},
      {R"({"command":"show","extra":1})", "unknown key \"extra\""},
      {"{\"command\":\"show\"}\n{\"command\":\"show\"}", "not valid JSON"},
  };
  for (const auto& [line, expected] : cases) {
    Result<Request> request = ParseRequest(line);
    ASSERT_FALSE(request.ok()) << line;
    EXPECT_NE(request.message().find(expected), std::string::npos)
        << line << " -> " << request.message();
  }
}

TEST(ParseRequestTest, EnforcesTheSizeLimit) {
  const std::string padding(kMaxRequestSize, ' ');
  const std::string at_limit = R"({"command":"show"})" + padding.substr(18);
  ASSERT_EQ(at_limit.size(), kMaxRequestSize);
  EXPECT_TRUE(ParseRequest(at_limit).ok());
  Result<Request> over = ParseRequest(at_limit + " ");
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.message().find("too large"), std::string::npos);
}

TEST(ReplyTest, RoundTripsResultsAndErrors) {
  const std::string ok = FormatOk(json{{"ports", 2}});
  ASSERT_EQ(ok.back(), '\n');
  EXPECT_EQ(ok.find('\n'), ok.size() - 1);
  Result<json> parsed = ParseReply(std::string_view(ok).substr(0, ok.size() - 1));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value()["ports"], 2);

  const std::string message = "port x: no such port; see `dpbridgectl port list`";
  const std::string error = FormatError(message);
  EXPECT_EQ(json::parse(error), (json{{"ok", false}, {"error", message}}));
  parsed = ParseReply(error);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.message(), "port x: no such port; see `dpbridgectl port list`");
}

TEST(ReplyTest, InvalidUtf8IsReplacedNotThrown) {
  const std::string reply = FormatError(std::string("bad \xff name"));
  EXPECT_TRUE(json::accept(reply));
}

TEST(ReplyTest, RejectsMalformedReplies) {
  for (const char* line : {"", "{}", R"({"ok":"yes"})", "[true]", "nonsense"}) {
    Result<json> parsed = ParseReply(line);
    ASSERT_FALSE(parsed.ok()) << line;
    EXPECT_NE(parsed.message().find("malformed reply"), std::string::npos);
  }
}

TEST(ArgumentTest, ReadsTypedArguments) {
  Request request = ParseRequest(
      R"({"command":"attach","args":{"name":"a","mtu":1500,"client":true,"ip":null}})").value();
  EXPECT_TRUE(CheckArgNames(request, {"name", "mtu", "client", "ip"}).ok());
  EXPECT_EQ(RequiredString(request, "name").value(), "a");
  EXPECT_EQ(OptionalUint(request, "mtu", 9000).value(), std::optional<uint64_t>(1500));
  EXPECT_TRUE(OptionalBool(request, "client").value());
  EXPECT_FALSE(OptionalString(request, "ip").value().has_value());  // null counts as absent
  EXPECT_FALSE(OptionalBool(request, "absent").value());
}

TEST(ArgumentTest, NamesTheCommandAndArgumentInErrors) {
  Request request = ParseRequest(
      R"({"command":"attach","args":{"name":5,"mtu":-1,"big":99999,"flag":"yes","x":1}})").value();
  EXPECT_EQ(CheckArgNames(request, {"name", "mtu", "big", "flag"}).message(),
            "attach: unknown argument 'x'");
  EXPECT_EQ(RequiredString(request, "name").message(), "attach: argument 'name' must be a string");
  EXPECT_EQ(RequiredString(request, "netns").message(), "attach: missing argument 'netns'");
  EXPECT_FALSE(OptionalUint(request, "mtu", 9000).ok());
  EXPECT_NE(OptionalUint(request, "big", 9000).message().find("from 0 to 9000"),
            std::string::npos);
  EXPECT_FALSE(OptionalBool(request, "flag").ok());
  EXPECT_FALSE(OptionalString(request, "mtu").ok());
}

TEST(FormatRequestTest, IsOneParsableLine) {
  Request request;
  request.command = "fdb.add";
  request.args = {{"mac", "02:00:00:00:00:01"}, {"port", "line\nbreak"}};
  const std::string line = FormatRequest(request);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  Result<Request> parsed = ParseRequest(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->args["port"], "line\nbreak");
}

}  // namespace
}  // namespace dpbridge
