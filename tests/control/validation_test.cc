// SPDX-License-Identifier: Apache-2.0
// Tests of control/validation.h: CIDR, MAC, namespace names, bounded integers.
#include "validation.h"

#include <gtest/gtest.h>

namespace dpbridge {
namespace {

TEST(ParseCidrTest, AcceptsHostAddresses) {
  Result<Ipv4Cidr> cidr = ParseCidr("198.18.0.1/24");
  ASSERT_TRUE(cidr.ok()) << cidr.message();
  EXPECT_EQ(cidr->address, 0xc6120001u);
  EXPECT_EQ(cidr->prefix_length, 24);
  EXPECT_EQ(cidr->ToString(), "198.18.0.1/24");
  EXPECT_TRUE(ParseCidr("198.18.255.254/16").ok());
  EXPECT_TRUE(ParseCidr("198.18.0.0/31").ok());   // point-to-point: both addresses usable
  EXPECT_TRUE(ParseCidr("198.18.0.7/32").ok());
}

TEST(ParseCidrTest, RejectsMalformedText) {
  for (const char* text : {"", "198.18.0.1", "198.18.0.1/", "198.18.0/24", "198.18.0.1.5/24",
                           "198.18.0.256/24", "198.18.0.1/33", "198.18.0.1/-1", "198.18.0.1/2x",
                           "a.b.c.d/24", "198.18.01.1/24", " 198.18.0.1/24", "198.18..1/24"}) {
    Result<Ipv4Cidr> cidr = ParseCidr(text);
    EXPECT_FALSE(cidr.ok()) << text;
    EXPECT_NE(cidr.message().find("use IPv4 CIDR such as"), std::string::npos) << cidr.message();
  }
}

TEST(ParseCidrTest, RejectsNonHostAddresses) {
  EXPECT_NE(ParseCidr("198.18.0.0/24").message().find("network address"), std::string::npos);
  EXPECT_NE(ParseCidr("198.18.0.255/24").message().find("broadcast"), std::string::npos);
  EXPECT_FALSE(ParseCidr("0.0.0.0/8").ok());
  EXPECT_FALSE(ParseCidr("224.0.0.1/24").ok());
  EXPECT_FALSE(ParseCidr("255.255.255.255/32").ok());
}

TEST(ParseUnicastMacTest, AcceptsUnicastAndRejectsTheRest) {
  Result<MacAddress> mac = ParseUnicastMac("02:00:C6:12:00:01");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->ToString(), "02:00:c6:12:00:01");
  EXPECT_NE(ParseUnicastMac("02:00:c6:12:00").message().find("bad MAC address"),
            std::string::npos);
  EXPECT_FALSE(ParseUnicastMac("zz:00:c6:12:00:01").ok());
  EXPECT_NE(ParseUnicastMac("01:00:5e:00:00:01").message().find("unicast"), std::string::npos);
  EXPECT_FALSE(ParseUnicastMac("ff:ff:ff:ff:ff:ff").ok());
  EXPECT_FALSE(ParseUnicastMac("00:00:00:00:00:00").ok());
}

TEST(ValidateNetnsNameTest, FollowsIpNetnsRules) {
  EXPECT_TRUE(ValidateNetnsName("ns-1.a_b").ok());
  EXPECT_TRUE(ValidateNetnsName(std::string(64, 'n')).ok());
  EXPECT_FALSE(ValidateNetnsName(std::string(65, 'n')).ok());
  EXPECT_FALSE(ValidateNetnsName("").ok());
  EXPECT_FALSE(ValidateNetnsName(".").ok());
  EXPECT_FALSE(ValidateNetnsName("..").ok());
  EXPECT_FALSE(ValidateNetnsName("a/b").ok());
  EXPECT_FALSE(ValidateNetnsName("a b").ok());
}

TEST(ParseBoundedUintTest, ChecksRangeAndDigits) {
  EXPECT_EQ(ParseBoundedUint("0", 0, 10, "n").value(), 0u);
  EXPECT_EQ(ParseBoundedUint("10", 0, 10, "n").value(), 10u);
  EXPECT_FALSE(ParseBoundedUint("11", 0, 10, "n").ok());
  EXPECT_FALSE(ParseBoundedUint("0", 1, 10, "n").ok());
  EXPECT_FALSE(ParseBoundedUint("", 0, 10, "n").ok());
  EXPECT_FALSE(ParseBoundedUint("-1", 0, 10, "n").ok());
  EXPECT_FALSE(ParseBoundedUint("3x", 0, 10, "n").ok());
  EXPECT_NE(ParseBoundedUint("99999999999999999999", 0, 10, "lcore").message().find("lcore"),
            std::string::npos);
}

TEST(RandomLocalMacTest, IsLocallyAdministeredUnicast) {
  for (int i = 0; i < 64; ++i) {
    const MacAddress mac = RandomLocalMac();
    EXPECT_FALSE(mac.IsMulticast());
    EXPECT_EQ(mac.bits() >> 40, 0x02u);
    EXPECT_TRUE(ParseUnicastMac(mac.ToString()).ok());
  }
  EXPECT_NE(RandomLocalMac(), RandomLocalMac());
}

}  // namespace
}  // namespace dpbridge
