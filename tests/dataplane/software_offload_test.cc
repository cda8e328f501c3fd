// SPDX-License-Identifier: Apache-2.0
// Tests of FinishOffloads: TCP sends cut into segments and checksums filled in,
// checked octet by octet against independently computed values.
#include "software_offload.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../common/eal_environment.h"
#include "tcp_frames.h"

namespace dpbridge {
namespace {

using testing::CheckSegment;
using testing::Fold;
using testing::Get16;
using testing::OffsetsOf;
using testing::SumWords;
using testing::TcpSend;
using testing::TcpSendSpec;

[[maybe_unused]] const bool kEalRegistered = testing::RegisterEalEnvironment();

constexpr uint8_t kGsoUdp = 3;  // VIRTIO_NET_HDR_GSO_UDP: never asked for, so refused

std::vector<uint8_t> Bytes(const rte_mbuf* frame) {
  const char* reason = nullptr;
  EXPECT_EQ(rte_mbuf_check(frame, 1, &reason), 0) << reason;
  std::vector<uint8_t> bytes = testing::ChainOctets(frame);
  EXPECT_EQ(bytes.size(), frame->pkt_len);
  return bytes;
}

class SoftwareOffloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::EalEnvironment::Pool();
    ASSERT_NE(pool_, nullptr) << "EAL did not start";
    flag_ = TapOffloadFlag();
    ASSERT_NE(flag_, 0u);
    baseline_ = rte_mempool_in_use_count(pool_);
  }

  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "mbufs leaked";
  }

  // The frame as TapQueue delivers it (testing::TapQueueFrame), from `pool`
  // or else the shared one.
  rte_mbuf* Frame(const VirtioNetHeader& header, const std::vector<uint8_t>& bytes,
                  size_t first = 2048, size_t chunk = 2048, rte_mempool* pool = nullptr) {
    return testing::TapQueueFrame(pool != nullptr ? pool : pool_, header, bytes, first, chunk);
  }

  // Finishes a send built from `spec` and checks every segment; returns their count.
  uint16_t CutAndCheck(const TcpSendSpec& spec, size_t first = 2048, size_t chunk = 2048) {
    const auto [header, bytes] = TcpSend(spec);
    rte_mbuf* frame = Frame(header, bytes, first, chunk);
    if (frame == nullptr) return 0;
    uint16_t count = 0;
    EXPECT_EQ(FinishOffloads(frame, flag_, pool_, out_.data(), &count), OffloadOutcome::kFinished);

    const auto o = OffsetsOf(spec);
    const uint32_t expected = (spec.payload + spec.mss - 1) / spec.mss;
    EXPECT_EQ(count, expected);
    std::vector<uint8_t> payload;
    for (uint16_t i = 0; i < count; ++i) {
      EXPECT_EQ(out_[i]->ol_flags & flag_, 0u) << "segment " << i << " still flagged";
      most_mbufs_ = std::max<uint16_t>(most_mbufs_, out_[i]->nb_segs);
      const auto s = Bytes(out_[i]);
      EXPECT_EQ(CheckSegment(s, spec, i, count), "") << "segment " << i;
      // Headers other than lengths, id, sequence, flags and checksums are copied.
      EXPECT_TRUE(std::equal(s.begin(), s.begin() + static_cast<long>(o.ip), bytes.begin()));
      payload.insert(payload.end(), s.begin() + static_cast<long>(o.payload), s.end());
    }
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(),
                           bytes.begin() + static_cast<long>(o.payload), bytes.end()))
        << "the payloads do not add up to the send";
    rte_pktmbuf_free_bulk(out_.data(), count);
    return count;
  }

  rte_mempool* pool_ = nullptr;
  uint64_t flag_ = 0;
  unsigned baseline_ = 0;
  uint16_t most_mbufs_ = 0;  // the longest chain among the segments CutAndCheck saw
  std::array<rte_mbuf*, kMaxSegments> out_{};
};

TEST_F(SoftwareOffloadTest, TcpOverIpv4SendIsCutIntoSegments) {
  EXPECT_EQ(CutAndCheck(TcpSendSpec{}), 7);  // 10,000 octets at 1,448
}

TEST_F(SoftwareOffloadTest, LargestSendIsCutIntoSegments) {
  TcpSendSpec spec;
  spec.payload = 65536 - 66;
  EXPECT_EQ(CutAndCheck(spec), 46);
}

TEST_F(SoftwareOffloadTest, TcpOverIpv6WithVlanTagIsCutIntoSegments) {
  TcpSendSpec spec;
  spec.ipv6 = true;
  spec.vlan = true;
  spec.mss = 1428;
  spec.payload = 30000;
  EXPECT_EQ(CutAndCheck(spec), 22);
}

TEST_F(SoftwareOffloadTest, CwrStaysOnTheFirstSegmentAndFinOnTheLast) {
  TcpSendSpec spec;
  spec.ecn = true;
  spec.payload = 3 * 1448;  // exactly three full segments
  EXPECT_EQ(CutAndCheck(spec), 3);
}

TEST_F(SoftwareOffloadTest, JumboSegmentsSpanSeveralMbufs) {
  TcpSendSpec spec;
  spec.mss = 8948;  // MTU 9000
  spec.payload = 60000;
  EXPECT_EQ(CutAndCheck(spec), 7);
  EXPECT_EQ(most_mbufs_, 5) << "9,014 octets in mbufs of 2,048";
}

TEST_F(SoftwareOffloadTest, PayloadSpreadOverOddSizedMbufsIsCopiedWhole) {
  // Reads that cross mbufs at odd offsets, as another driver's chains might.
  EXPECT_EQ(CutAndCheck(TcpSendSpec{}, 101, 333), 7);
}

TEST_F(SoftwareOffloadTest, SendThatFitsOneSegmentIsFinishedInPlace) {
  TcpSendSpec spec;
  spec.payload = 1000;
  const auto [header, bytes] = TcpSend(spec);
  rte_mbuf* frame = Frame(header, bytes);
  ASSERT_NE(frame, nullptr);
  uint16_t count = 0;
  ASSERT_EQ(FinishOffloads(frame, flag_, pool_, out_.data(), &count), OffloadOutcome::kFinished);
  ASSERT_EQ(count, 1);
  EXPECT_EQ(out_[0], frame);
  EXPECT_EQ(frame->ol_flags & flag_, 0u);
  EXPECT_EQ(CheckSegment(Bytes(frame), spec, 0, 1), "");
  rte_pktmbuf_free(frame);
}

TEST_F(SoftwareOffloadTest, UdpChecksumIsFilledInPlace) {
  // A UDP datagram over IPv4 whose checksum the kernel left to do.
  TcpSendSpec spec;  // reuse the IPv4 header, then make it UDP
  spec.payload = 3000;
  auto [header, bytes] = TcpSend(spec);
  const auto o = OffsetsOf(spec);
  bytes[o.ip + 9] = 17;
  bytes[o.ip + 10] = bytes[o.ip + 11] = 0;
  testing::Put16(bytes, o.ip + 10, static_cast<uint16_t>(~Fold(SumWords(bytes, o.ip, o.ip + 20))));
  const size_t udp_length = bytes.size() - o.tcp;
  testing::Put16(bytes, o.tcp + 4, static_cast<uint16_t>(udp_length));
  const uint32_t pseudo = SumWords(bytes, o.ip + 12, o.ip + 20) + 17 + udp_length;
  testing::Put16(bytes, o.tcp + 6, Fold(pseudo));
  header = {VirtioNetHeader::kNeedsChecksum, VirtioNetHeader::kGsoNone, 0, 0,
            static_cast<uint16_t>(o.tcp), 6};

  // In mbufs of 2,048 octets, and in pieces of odd lengths (which DPDK 22.11's
  // rte_raw_cksum_mbuf sums wrongly).
  const std::vector<std::pair<size_t, size_t>> layouts = {{2048, 2048}, {101, 333}, {43, 1}};
  for (const auto& [first, chunk] : layouts) {
    rte_mbuf* frame = Frame(header, bytes, first, chunk);
    ASSERT_NE(frame, nullptr);
    ASSERT_GT(frame->nb_segs, 1);
    uint16_t count = 0;
    ASSERT_EQ(FinishOffloads(frame, flag_, pool_, out_.data(), &count),
              OffloadOutcome::kFinished);
    ASSERT_EQ(count, 1);
    EXPECT_EQ(out_[0], frame);
    const auto done = Bytes(frame);
    EXPECT_NE(Get16(done, o.tcp + 6), Fold(pseudo)) << "the checksum was not filled in";
    EXPECT_EQ(Fold(SumWords(done, o.tcp, done.size(), pseudo)), 0xffff)
        << "bad UDP checksum, pieces of " << first << " and " << chunk;
    // Everything but the checksum field is as it was.
    auto expected = bytes;
    expected[o.tcp + 6] = done[o.tcp + 6];
    expected[o.tcp + 7] = done[o.tcp + 7];
    EXPECT_EQ(done, expected);
    rte_pktmbuf_free(frame);
  }
}

TEST_F(SoftwareOffloadTest, FramesItCannotFinishAreLeftUntouched) {
  const auto [good_header, good] = TcpSend(TcpSendSpec{});
  struct Case {
    const char* what;
    VirtioNetHeader header;
    std::vector<uint8_t> bytes;
    size_t first = 2048;
  };
  std::vector<Case> cases;
  auto with_header = [&](const char* what, auto change) {
    Case c{what, good_header, good};
    change(c.header);
    cases.push_back(c);
  };
  auto with_bytes = [&](const char* what, size_t at, uint8_t value) {
    Case c{what, good_header, good};
    c.bytes[at] = value;
    cases.push_back(c);
  };
  with_header("UDP segmentation", [](VirtioNetHeader& h) { h.gso_type = kGsoUdp; });
  with_header("no checksum flag", [](VirtioNetHeader& h) { h.flags = 0; });
  with_header("zero MSS", [](VirtioNetHeader& h) { h.gso_size = 0; });
  with_header("checksum offset", [](VirtioNetHeader& h) { h.checksum_offset = 6; });
  with_header("checksum start", [](VirtioNetHeader& h) { h.checksum_start = 38; });
  with_header("IPv6 type over IPv4", [](VirtioNetHeader& h) { h.gso_type = testing::kGsoTcpV6; });
  with_header("too many segments", [](VirtioNetHeader& h) { h.gso_size = 50; });
  with_header("checksum beyond the first mbuf", [](VirtioNetHeader& h) {
    h.gso_type = VirtioNetHeader::kGsoNone;
    h.checksum_start = 3000;
  });
  with_header("checksum start past the end", [](VirtioNetHeader& h) {
    h.gso_type = VirtioNetHeader::kGsoNone;
    h.checksum_start = 20000;
  });
  with_bytes("ARP ethertype", 13, 0x06);
  with_bytes("IP version 6 in an IPv4 header", 14, 0x65);
  with_bytes("IPv4 header length 4 words", 14, 0x44);
  with_bytes("UDP protocol", 23, 17);
  with_bytes("TCP header length 4 words", 34 + 12, 0x40);
  cases.push_back({"headers beyond the first mbuf", good_header, good, 60});
  cases.push_back({"frame shorter than its headers", good_header,
                   std::vector<uint8_t>(good.begin(), good.begin() + 40)});

  for (const Case& c : cases) {
    rte_mbuf* frame = Frame(c.header, c.bytes, c.first);
    ASSERT_NE(frame, nullptr) << c.what;
    uint16_t count = 7;
    EXPECT_EQ(FinishOffloads(frame, flag_, pool_, out_.data(), &count),
              OffloadOutcome::kUnsupported)
        << c.what;
    EXPECT_EQ(count, 0) << c.what;
    EXPECT_NE(frame->ol_flags & flag_, 0u) << c.what;
    EXPECT_EQ(Bytes(frame), c.bytes) << c.what;
    rte_pktmbuf_free(frame);
  }
}

TEST_F(SoftwareOffloadTest, EmptyPoolLeavesTheFrameWholeAndLeaksNothing) {
  // 15 mbufs: the frame takes 5 of them (10,066 octets), its 7 segments would take 7
  // more, and only 3 are left.
  rte_mempool* small = rte_pktmbuf_pool_create("offload_small", 15, 0, 0,
                                               RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(small, nullptr);
  const auto [header, bytes] = TcpSend(TcpSendSpec{});
  rte_mbuf* frame = Frame(header, bytes, 2048, 2048, small);
  ASSERT_NE(frame, nullptr);
  std::vector<rte_mbuf*> hog(rte_mempool_avail_count(small) - 3);
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(small, hog.data(), static_cast<unsigned>(hog.size())), 0);

  uint16_t count = 7;
  EXPECT_EQ(FinishOffloads(frame, flag_, small, out_.data(), &count), OffloadOutcome::kNoMbuf);
  EXPECT_EQ(count, 0);
  EXPECT_EQ(rte_mempool_avail_count(small), 3u) << "segments made before the pool ran dry leaked";
  EXPECT_EQ(Bytes(frame), bytes);
  EXPECT_NE(frame->ol_flags & flag_, 0u);

  // With the pool back, the same frame is finished.
  rte_pktmbuf_free_bulk(hog.data(), static_cast<unsigned>(hog.size()));
  ASSERT_EQ(FinishOffloads(frame, flag_, small, out_.data(), &count), OffloadOutcome::kFinished);
  EXPECT_EQ(count, 7);
  rte_pktmbuf_free_bulk(out_.data(), count);
  EXPECT_EQ(rte_mempool_in_use_count(small), 0u);
  rte_mempool_free(small);
}

}  // namespace
}  // namespace dpbridge
