// SPDX-License-Identifier: Apache-2.0
// mac_parse_fuzzer: MacAddress::Parse against a second, independent reading of the grammar,
// and the round trips text -> MacAddress -> text and bytes -> MacAddress -> bytes.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "dpbridge/mac_address.h"

namespace {

using dpbridge::FdbKey;
using dpbridge::MacAddress;

[[noreturn]] void Fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "mac_parse_fuzzer: %s for input '%.*s'\n", what,
               static_cast<int>(text.size()), text.data());
  std::abort();
}

// "aa:bb:cc:dd:ee:ff" or with '-', one separator kind, hex digits in any case.
std::optional<uint64_t> Reference(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  uint64_t bits = 0;
  for (size_t at = 0; at < 17; at += 3) {
    if (at + 2 < 17 && text[at + 2] != separator) return std::nullopt;
    // from_chars alone would take a sign or a single digit: demand two hex digits.
    for (size_t k = 0; k < 2; ++k) {
      const char c = text[at + k];
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex) return std::nullopt;
    }
    unsigned octet = 0;
    const auto [end, error] = std::from_chars(text.data() + at, text.data() + at + 2, octet, 16);
    if (error != std::errc() || end != text.data() + at + 2) return std::nullopt;
    bits = bits << 8 | octet;
  }
  return bits;
}

std::string Normalised(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '-') c = ':';
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<MacAddress> parsed = MacAddress::Parse(text);
  const std::optional<uint64_t> expected = Reference(text);

  if (parsed.has_value() != expected.has_value()) Fail("Parse and the grammar disagree", text);
  if (parsed) {
    if (parsed->bits() != *expected) Fail("Parse read the wrong value", text);
    const std::string printed = parsed->ToString();
    if (printed != Normalised(text)) Fail("ToString is not the normalised input", text);
    const auto again = MacAddress::Parse(printed);
    if (!again || *again != *parsed) Fail("ToString does not parse back", text);
  }

  // Any six octets: bytes -> address -> bytes and -> text -> address.
  if (size >= 6) {
    const MacAddress mac = MacAddress::FromBytes(data);
    const auto bytes = mac.Bytes();
    for (size_t i = 0; i < 6; ++i) {
      if (bytes[i] != data[i]) Fail("Bytes() does not return the octets read", text);
    }
    const auto again = MacAddress::Parse(mac.ToString());
    if (!again || *again != mac) Fail("ToString of read octets does not parse back", text);
    if (mac.IsBroadcast() && !mac.IsMulticast()) Fail("broadcast is not multicast", text);
    if (mac.IsMulticast() != ((data[0] & 1) != 0)) Fail("I/G bit misread", text);

    // FDB keys keep the VLAN's 12 bits and the whole address.
    const uint16_t vlan = size >= 8 ? static_cast<uint16_t>(data[6] | data[7] << 8) : 0;
    const FdbKey key(vlan, mac);
    if (key.mac() != mac || key.vlan() != (vlan & 0xfff)) Fail("FdbKey does not round-trip", text);
  }
  return 0;
}
