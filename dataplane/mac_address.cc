// SPDX-License-Identifier: Apache-2.0
// MacAddress parsing and formatting.
#include "dpbridge/mac_address.h"

#include <cstdio>

namespace dpbridge {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<MacAddress> MacAddress::Parse(std::string_view text) {
  // Exactly six two-digit groups with one separator kind: "aa:bb:..".
  if (text.size() != 17) return std::nullopt;
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  uint64_t bits = 0;
  for (size_t group = 0; group < 6; ++group) {
    const size_t at = group * 3;
    if (group > 0 && text[at - 1] != separator) return std::nullopt;
    const int high = HexValue(text[at]);
    const int low = HexValue(text[at + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bits = (bits << 8) | static_cast<uint64_t>(high << 4 | low);
  }
  return MacAddress(bits);
}

std::array<uint8_t, 6> MacAddress::Bytes() const noexcept {
  std::array<uint8_t, 6> out{};
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(bits_ >> (40 - 8 * i));
  return out;
}

std::string MacAddress::ToString() const {
  const auto b = Bytes();
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
                b[4], b[5]);
  return text;
}

}  // namespace dpbridge
