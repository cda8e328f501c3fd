// SPDX-License-Identifier: Apache-2.0
// Parsers and checks for user-supplied values.
#include "validation.h"

#include <charconv>
#include <random>

namespace dpbridge {

namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

Status ValidateName(std::string_view name, size_t max_length, std::string_view what) {
  const std::string shown(name);
  if (name.empty() || name.size() > max_length) {
    return Status::Error(std::string(what) + " '" + shown + "': must be 1 to " +
                         std::to_string(max_length) + " characters long");
  }
  if (name == "." || name == "..") {
    return Status::Error(std::string(what) + " '" + shown + "': not a valid name");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Status::Error(std::string(what) + " '" + shown +
                           "': use only letters, digits, '_', '.' and '-'");
    }
  }
  return Status();
}

// Parses one decimal octet of a dotted quad.
bool ParseOctet(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 3) return false;
  if (text.size() > 1 && text[0] == '0') return false;  // no octal look-alikes
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > 255) return false;
  *out = value;
  return true;
}

}  // namespace

std::string Ipv4Cidr::ToString() const {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff) + "/" +
         std::to_string(prefix_length);
}

Result<Ipv4Cidr> ParseCidr(std::string_view text) {
  const std::string shown(text);
  const auto bad = [&](std::string_view why) {
    return Status::Error("bad address '" + shown + "': " + std::string(why) +
                         "; use IPv4 CIDR such as 198.18.0.1/24");
  };
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad("missing /prefix-length");

  Ipv4Cidr cidr;
  std::string_view rest = text.substr(0, slash);
  for (int i = 0; i < 4; ++i) {
    const size_t dot = rest.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) return bad("not four dotted numbers");
    uint32_t octet = 0;
    if (!ParseOctet(rest.substr(0, dot), &octet)) return bad("each number must be 0 to 255");
    cidr.address = cidr.address << 8 | octet;
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  }

  const std::string_view prefix = text.substr(slash + 1);
  unsigned length = 0;
  auto [end, error] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), length);
  if (prefix.empty() || error != std::errc() || end != prefix.data() + prefix.size() ||
      length > 32) {
    return bad("prefix length must be 0 to 32");
  }
  cidr.prefix_length = static_cast<uint8_t>(length);

  if (cidr.address == 0) return bad("0.0.0.0 is not a host address");
  if ((cidr.address >> 28) >= 0xe) return bad("multicast and reserved addresses are not allowed");
  if (length < 31 && length > 0) {
    const uint32_t host_mask = (uint32_t{1} << (32 - length)) - 1;
    const uint32_t host = cidr.address & host_mask;
    if (host == 0) return bad("that is the subnet's network address");
    if (host == host_mask) return bad("that is the subnet's broadcast address");
  }
  return cidr;
}

Result<MacAddress> ParseUnicastMac(std::string_view text) {
  const std::string shown(text);
  const std::optional<MacAddress> mac = MacAddress::Parse(text);
  if (!mac) {
    return Status::Error("bad MAC address '" + shown + "': use six hex octets such as " +
                         "02:00:c6:12:00:01");
  }
  if (!mac->IsStation()) {
    return Status::Error("bad MAC address '" + shown +
                         "': must be unicast and not zero (first octet even)");
  }
  return *mac;
}

Status ValidateNetnsName(std::string_view name) { return ValidateName(name, 64, "namespace"); }

Result<uint64_t> ParseBoundedUint(std::string_view text, uint64_t min, uint64_t max,
                                  std::string_view what) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return Status::Error("bad " + std::string(what) + " '" + std::string(text) +
                         "': must be a whole number from " + std::to_string(min) + " to " +
                         std::to_string(max));
  }
  return value;
}

MacAddress RandomLocalMac() {
  std::random_device device;
  const uint64_t random = (uint64_t{device()} << 32 | device()) & 0xffffffffffull;
  // 0x02 in the first octet: locally administered, unicast.
  return MacAddress(uint64_t{0x02} << 40 | random);
}

}  // namespace dpbridge
