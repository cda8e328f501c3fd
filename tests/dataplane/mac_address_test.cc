// SPDX-License-Identifier: Apache-2.0
// Tests of MacAddress and FdbKey: parsing, formatting, classification, packing.
#include "dpbridge/mac_address.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace dpbridge {
namespace {

TEST(MacAddressTest, ParsesColonAndDashSeparatedInAnyCase) {
  const auto lower = MacAddress::Parse("02:1a:2b:3c:4d:5e");
  const auto upper = MacAddress::Parse("02:1A:2B:3C:4D:5E");
  const auto dashed = MacAddress::Parse("02-1a-2b-3c-4d-5e");
  ASSERT_TRUE(lower.has_value());
  ASSERT_TRUE(upper.has_value());
  ASSERT_TRUE(dashed.has_value());
  EXPECT_EQ(lower->bits(), 0x021a2b3c4d5eull);
  EXPECT_EQ(*upper, *lower);
  EXPECT_EQ(*dashed, *lower);
}

TEST(MacAddressTest, ParsesTheExtremes) {
  EXPECT_EQ(MacAddress::Parse("00:00:00:00:00:00")->bits(), 0u);
  EXPECT_EQ(MacAddress::Parse("ff:ff:ff:ff:ff:ff")->bits(), 0xffffffffffffull);
}

TEST(MacAddressTest, RejectsMalformedText) {
  const std::array<const char*, 16> bad = {
      "",
      "02:1a:2b:3c:4d",           // five groups
      "02:1a:2b:3c:4d:5e:6f",     // seven groups
      "02:1a:2b:3c:4d:5",         // short last group
      "02:1a:2b:3c:4d:5e ",       // trailing space
      " 02:1a:2b:3c:4d:5e",       // leading space
      "02:1a-2b:3c:4d:5e",        // mixed separators
      "02-1a-2b-3c-4d:5e",        // mixed separators, last one
      "02.1a.2b.3c.4d.5e",        // unknown separator
      "021a2b3c4d5e",             // no separators
      "021a.2b3c.4d5e",           // Cisco dotted form
      "g2:1a:2b:3c:4d:5e",        // not hex
      "02:1a:2b:3c:4d:5z",        // not hex, last digit
      "0x:1a:2b:3c:4d:5e",        // prefix
      "02::1a:2b:3c:4d:5",        // doubled separator
      "2:1a:2b:3c:4d:5e0",        // single-digit group
  };
  for (const char* text : bad) {
    EXPECT_FALSE(MacAddress::Parse(text).has_value()) << "accepted '" << text << "'";
  }
}

TEST(MacAddressTest, FormatsLowerCaseAndRoundTrips) {
  const MacAddress mac(0x0A1B2C3D4E5Full);
  EXPECT_EQ(mac.ToString(), "0a:1b:2c:3d:4e:5f");
  EXPECT_EQ(MacAddress::Parse(mac.ToString()), mac);
  EXPECT_EQ(MacAddress().ToString(), "00:00:00:00:00:00");
}

TEST(MacAddressTest, BytesAreInWireOrder) {
  const std::array<uint8_t, 6> wire = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  const MacAddress mac = MacAddress::FromBytes(wire.data());
  EXPECT_EQ(mac.bits(), 0x021122334455ull);
  EXPECT_EQ(mac.Bytes(), wire);
}

TEST(MacAddressTest, ConstructorKeepsOnlyFortyEightBits) {
  const MacAddress mac(0xabcd'0211'2233'4455ull);
  EXPECT_EQ(mac.bits(), 0x021122334455ull);
}

TEST(MacAddressTest, ClassifiesBroadcastMulticastZeroAndUnicast) {
  const MacAddress broadcast = *MacAddress::Parse("ff:ff:ff:ff:ff:ff");
  const MacAddress ipv4_multicast = *MacAddress::Parse("01:00:5e:00:00:fb");
  const MacAddress ipv6_multicast = *MacAddress::Parse("33:33:00:00:00:01");
  const MacAddress unicast = *MacAddress::Parse("02:00:00:00:00:01");
  const MacAddress zero;

  EXPECT_TRUE(broadcast.IsBroadcast());
  EXPECT_TRUE(broadcast.IsMulticast());
  EXPECT_TRUE(ipv4_multicast.IsMulticast());
  EXPECT_FALSE(ipv4_multicast.IsBroadcast());
  EXPECT_TRUE(ipv6_multicast.IsMulticast());
  EXPECT_FALSE(unicast.IsMulticast());
  EXPECT_FALSE(unicast.IsBroadcast());
  EXPECT_FALSE(unicast.IsZero());
  EXPECT_TRUE(zero.IsZero());
  EXPECT_FALSE(zero.IsMulticast());
  EXPECT_TRUE(unicast.IsStation());
  EXPECT_FALSE(zero.IsStation());
  EXPECT_FALSE(broadcast.IsStation());
  EXPECT_FALSE(ipv4_multicast.IsStation());
  // The locally-administered bit (0x02) is not the group bit.
  EXPECT_FALSE(MacAddress::Parse("fe:ff:ff:ff:ff:ff")->IsMulticast());
}

TEST(FdbKeyTest, PacksVlanAboveTheMac) {
  const MacAddress mac(0x021122334455ull);
  const FdbKey key(42, mac);
  EXPECT_EQ(key.vlan(), 42);
  EXPECT_EQ(key.mac(), mac);
  EXPECT_EQ(key.bits(), (uint64_t{42} << 48) | mac.bits());
  EXPECT_EQ(FdbKey::FromBits(key.bits()), key);
}

TEST(FdbKeyTest, SameMacInDifferentVlansIsADifferentKey) {
  const MacAddress mac(0x021122334455ull);
  EXPECT_NE(FdbKey(0, mac), FdbKey(1, mac));
  EXPECT_EQ(FdbKey(kMaxVlanId, mac).vlan(), kMaxVlanId);
}

TEST(FdbKeyTest, VlanIsMaskedToTwelveBits) {
  const MacAddress mac(0x021122334455ull);
  EXPECT_EQ(FdbKey(0x1005, mac).vlan(), 5);
  EXPECT_EQ(FdbKey(0x1005, mac), FdbKey(5, mac));
}

TEST(FdbKeyTest, ZeroKeyIsTheDefault) {
  EXPECT_EQ(FdbKey().bits(), 0u);
  EXPECT_TRUE(FdbKey().mac().IsZero());
}

}  // namespace
}  // namespace dpbridge
