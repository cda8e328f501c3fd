// SPDX-License-Identifier: Apache-2.0
// Forwarding of frames read from TAPs with a virtio-net header: TapQueues over
// socketpairs beside the ring ports of the forwarding fixture.
#include "forwarding_fixture.h"
#include "tcp_frames.h"

namespace dpbridge {
namespace {

[[maybe_unused]] const bool kEalRegistered = testing::RegisterEalEnvironment();

// Frames with a checksum or segmentation left to do (read from a TAP with a
// virtio-net header) may leave only by another TAP. Two TapQueues over
// socketpairs join the four ring ports as ports 4 and 5, polled by the same
// Pmd; the test writes into port 4 what the kernel would and reads what the
// switch writes to port 5.
constexpr uint16_t kTapIn = kPortCount;
constexpr uint16_t kTapOut = kPortCount + 1;
constexpr uint16_t kTapCount = 2;

// What the kernel puts before a TCP send over IPv4 that it left whole.
constexpr VirtioNetHeader kGsoHeader{VirtioNetHeader::kNeedsChecksum, 1 /* GSO_TCPV4 */, 66, 1448,
                                     34, 16};

std::vector<uint8_t> Message(const VirtioNetHeader& header, const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> message(sizeof(header) + frame.size());
  std::memcpy(message.data(), &header, sizeof(header));
  std::copy(frame.begin(), frame.end(), message.begin() + sizeof(header));
  return message;
}

class TapForwardingTest : public ForwardingTest {
 protected:
  void SetUp() override {
    ForwardingTest::SetUp();
    if (HasFatalFailure()) return;
    offload_flag_ = TapOffloadFlag();
    ASSERT_NE(offload_flag_, 0u) << "rte_mbuf_dynflag_register failed";

    for (uint16_t i = 0; i < kTapCount; ++i) {
      int fds[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0) << strerror(errno);
      ASSERT_EQ(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0) << strerror(errno);
      peers_[i] = fds[1];
      taps_[i] = std::make_unique<TapQueue>(fds[0], pool_, offload_flag_);
    }
    PublishWithTaps(true);
  }

  void TearDown() override {
    CloseTaps();
    ForwardingTest::TearDown();
  }

  // Gives back the mbufs the queues keep for their next reads. The Pmd's
  // snapshot still names the queues, so it must not be polled afterwards.
  void CloseTaps() {
    for (uint16_t i = 0; i < kTapCount; ++i) {
      taps_[i].reset();
      if (peers_[i] >= 0) close(peers_[i]);
      peers_[i] = -1;
    }
  }

  // With `finish`, frames with work left are finished in software for the
  // ring ports (the switch's setting); without, they cannot go there.
  void PublishWithTaps(bool tap_out_link_up, bool finish = false) {
    auto snapshot = RingSnapshot({true, true, true, true});
    snapshot->offload_flag = offload_flag_;
    if (finish) snapshot->segment_pool = pool_;
    for (uint16_t i = 0; i < kTapCount; ++i) {
      const auto port = static_cast<uint16_t>(kTapIn + i);
      PortSlot& slot = snapshot->ports[port];
      slot.present = true;
      slot.link_up = port != kTapOut || tap_out_link_up;
      slot.generation = 1;
      slot.tap = taps_[i].get();
      snapshot->flood_ports.push_back(port);
      snapshot->rx_queues.push_back({port, 0, 0, false, taps_[i].get()});
    }
    Publish(std::move(snapshot));
  }

  // Writes a frame into port kTapIn as the kernel would; returns its bytes.
  std::vector<uint8_t> SendTap(const VirtioNetHeader& header, MacAddress dst, MacAddress src,
                               uint32_t size) {
    const std::vector<uint8_t> frame = FrameBytes(dst, src, size, kEtherTypeIpv4, ++seq_);
    const std::vector<uint8_t> message = Message(header, frame);
    EXPECT_EQ(send(peers_[0], message.data(), message.size(), 0),
              static_cast<ssize_t>(message.size()))
        << strerror(errno);
    return frame;
  }
  std::vector<uint8_t> SendOffloaded(MacAddress dst, MacAddress src, uint32_t size = 1500) {
    return SendTap(kGsoHeader, dst, src, size);
  }
  std::vector<uint8_t> SendPlain(MacAddress dst, MacAddress src, uint32_t size = 1500) {
    return SendTap(VirtioNetHeader{}, dst, src, size);
  }
  // Writes a TCP send (02:..:0b <- 02:..:0a) into port kTapIn as the kernel would.
  std::vector<uint8_t> SendTcp(const testing::TcpSendSpec& spec) {
    const auto [header, frame] = testing::TcpSend(spec);
    const std::vector<uint8_t> message = Message(header, frame);
    EXPECT_EQ(send(peers_[0], message.data(), message.size(), 0),
              static_cast<ssize_t>(message.size()))
        << strerror(errno);
    return frame;
  }

  // The messages (header and frame) the switch wrote to a TAP port since the last call.
  std::vector<std::vector<uint8_t>> TakeFromTap(uint16_t port) {
    std::vector<std::vector<uint8_t>> messages;
    std::vector<uint8_t> buffer(TapQueue::kMaxFrame + 2 * sizeof(VirtioNetHeader));
    ssize_t n;
    while ((n = recv(peers_[port - kTapIn], buffer.data(), buffer.size(), MSG_DONTWAIT)) >= 0) {
      messages.emplace_back(buffer.begin(), buffer.begin() + n);
    }
    EXPECT_EQ(errno, EAGAIN) << strerror(errno);
    return messages;
  }

  void Place(MacAddress mac, uint16_t port) {
    ASSERT_EQ(table_->Learn(FdbKey(0, mac), port, NowSeconds()), LearnResult::kLearned);
  }

  uint64_t offload_flag_ = 0;
  std::array<std::unique_ptr<TapQueue>, kTapCount> taps_;
  std::array<int, kTapCount> peers_ = {-1, -1};
};

TEST_F(TapForwardingTest, OffloadedFrameForAnOrdinaryPortIsDroppedThere) {
  Place(Mac(0xb), 1);
  SendOffloaded(Mac(0xb), Mac(0xa));
  Run();

  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_TRUE(TakeFromTap(kTapOut).empty());
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), 1u);
  EXPECT_EQ(TotalDrops(1), 1u);
  EXPECT_EQ(TotalDrops(kTapIn), 0u);
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), 0u);

  // The same frame with nothing left to do goes through.
  const auto plain = SendPlain(Mac(0xb), Mac(0xa));
  Run();
  const auto out = Received(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Payload(out[0]), plain);

  ReleaseHeld();
  CloseTaps();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "the dropped frame leaked";
}

TEST_F(TapForwardingTest, OffloadedFrameForATapIsWrittenWithItsHeader) {
  Place(Mac(0xb), kTapOut);
  const auto sent = SendOffloaded(Mac(0xb), Mac(0xa));
  Run();

  const auto out = TakeFromTap(kTapOut);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], Message(kGsoHeader, sent));
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_TRUE(TakeFromTap(kTapIn).empty());
  EXPECT_EQ(pmd_->port_counters(kTapOut).tx_packets.Load(), 1u);
  EXPECT_EQ(pmd_->port_counters(kTapOut).tx_bytes.Load(), sent.size());
  EXPECT_EQ(TotalDrops(kTapIn) + TotalDrops(kTapOut), 0u);
}

// Without software finishing, a flood with work left reaches only the TAPs,
// and every other port counts the copy it missed.
TEST_F(TapForwardingTest, UnfinishedFloodReachesOnlyTapsAndCountsTheMissedCopies) {
  const auto sent = SendOffloaded(Mac(0xc), Mac(0xa));  // unknown destination
  Run();

  const auto out = TakeFromTap(kTapOut);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], Message(kGsoHeader, sent));
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(pmd_->port_counters(kTapIn).flooded_packets.Load(), 1u);
  for (uint16_t port = 0; port < kPortCount; ++port) {
    EXPECT_EQ(Drops(port, DropReason::kOffloadUnsupported), 1u) << port;
    EXPECT_EQ(TotalDrops(port), 1u) << port;
  }
  EXPECT_EQ(TotalDrops(kTapIn) + TotalDrops(kTapOut), 0u);

  // A plain flood reaches every port but the one it came in by.
  const auto plain = SendPlain(kBroadcast, Mac(0xa));
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{1, 1, 1, 1}));
  const auto plain_out = TakeFromTap(kTapOut);
  ASSERT_EQ(plain_out.size(), 1u);
  EXPECT_EQ(plain_out[0], Message(VirtioNetHeader{}, plain));
  EXPECT_TRUE(TakeFromTap(kTapIn).empty());
}

// Empty if `segments` are the well-formed segments of the send `spec`
// describes, whose frame was `send`; else what is wrong.
std::string CheckSegments(const std::vector<std::vector<uint8_t>>& segments,
                          const testing::TcpSendSpec& spec, const std::vector<uint8_t>& send) {
  const auto o = testing::OffsetsOf(spec);
  const uint32_t expected = (spec.payload + spec.mss - 1) / spec.mss;
  if (segments.size() != expected) {
    return std::to_string(segments.size()) + " segments, not " + std::to_string(expected);
  }
  std::vector<uint8_t> payload;
  for (uint32_t i = 0; i < expected; ++i) {
    const std::string wrong = testing::CheckSegment(segments[i], spec, i, expected);
    if (!wrong.empty()) return "segment " + std::to_string(i) + ": " + wrong;
    payload.insert(payload.end(), segments[i].begin() + static_cast<long>(o.payload),
                   segments[i].end());
  }
  if (!std::equal(payload.begin(), payload.end(), send.begin() + static_cast<long>(o.payload),
                  send.end())) {
    return "the payloads do not add up to the send";
  }
  return {};
}

// A TCP send bound for a port that is not a TAP leaves it as segments of at
// most the MSS, more of them than one TX buffer holds.
TEST_F(TapForwardingTest, TcpSendForAnOrdinaryPortIsCutIntoSegments) {
  PublishWithTaps(true, true);
  Place(Mac(0xb), 1);
  testing::TcpSendSpec spec;
  spec.payload = 60000;  // 42 segments
  const auto send = SendTcp(spec);
  Run();

  std::vector<std::vector<uint8_t>> segments;
  for (rte_mbuf* frame : Received(1)) segments.push_back(testing::ChainOctets(frame));
  EXPECT_EQ(CheckSegments(segments, spec, send), "");
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), 42u);
  EXPECT_EQ(pmd_->port_counters(1).segmented_sends.Load(), 1u);
  EXPECT_EQ(pmd_->port_counters(kTapIn).segmented_sends.Load(), 0u);
  uint64_t bytes = 0;
  for (const auto& segment : segments) bytes += segment.size();
  EXPECT_EQ(pmd_->port_counters(1).tx_bytes.Load(), bytes);
  EXPECT_EQ(pmd_->port_counters(kTapIn).rx_packets.Load(), 1u);
  for (uint16_t port = 0; port <= kTapOut; ++port) EXPECT_EQ(TotalDrops(port), 0u) << port;
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  ReleaseHeld();
  CloseTaps();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "a segment or the send leaked";
}

// Segments and plain frames of one burst leave in the order they came.
TEST_F(TapForwardingTest, SegmentsKeepTheirPlaceAmongPlainFramesOfTheBurst) {
  PublishWithTaps(true, true);
  Place(Mac(0xb), 1);
  testing::TcpSendSpec spec;
  spec.payload = 60000;
  const auto before = SendPlain(Mac(0xb), Mac(0xa), 300);
  const auto send = SendTcp(spec);
  std::vector<std::vector<uint8_t>> after;
  for (uint16_t i = 0; i < kBurst - 2; ++i) after.push_back(SendPlain(Mac(0xb), Mac(0xa), 300));
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();

  std::vector<std::vector<uint8_t>> out;
  for (rte_mbuf* frame : Received(1)) out.push_back(testing::ChainOctets(frame));
  ASSERT_EQ(out.size(), 1u + 42u + after.size());
  EXPECT_EQ(out[0], before);
  EXPECT_EQ(CheckSegments({out.begin() + 1, out.begin() + 43}, spec, send), "");
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(out[43 + i], after[i]) << i;
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), out.size());
  EXPECT_EQ(TotalDrops(1), 0u);
}

// Frames with only a checksum left (sends within one MSS) are finished in place
// and buffered like any frame, after the segments of a larger send of the burst.
TEST_F(TapForwardingTest, SmallSendsAfterACutOneAreFinishedInPlaceInOrder) {
  PublishWithTaps(true, true);
  Place(Mac(0xb), 1);
  testing::TcpSendSpec big;
  big.payload = 60000;
  const auto send = SendTcp(big);
  std::vector<testing::TcpSendSpec> smalls;
  std::vector<std::vector<uint8_t>> small_frames;
  for (uint16_t i = 0; i < kBurst - 1; ++i) {
    testing::TcpSendSpec spec;
    spec.payload = 100u + 37u * i;
    spec.seq = 1000u * i;
    smalls.push_back(spec);
    small_frames.push_back(SendTcp(spec));
  }
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();

  std::vector<std::vector<uint8_t>> out;
  for (rte_mbuf* frame : Received(1)) out.push_back(testing::ChainOctets(frame));
  ASSERT_EQ(out.size(), 42u + smalls.size());
  EXPECT_EQ(CheckSegments({out.begin(), out.begin() + 42}, big, send), "");
  for (size_t i = 0; i < smalls.size(); ++i) {
    EXPECT_EQ(testing::CheckSegment(out[42 + i], smalls[i], 0, 1), "") << i;
    EXPECT_EQ(out[42 + i].size(), small_frames[i].size()) << i;
  }
  EXPECT_EQ(TotalDrops(1), 0u);
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), out.size());
  EXPECT_EQ(pmd_->port_counters(1).segmented_sends.Load(), 1u) << "only the large send was cut";
}

// A flood of a TCP send is finished once; every port, TAPs too, gets the segments.
TEST_F(TapForwardingTest, FloodOfATcpSendIsFinishedForEveryPort) {
  PublishWithTaps(true, true);
  testing::TcpSendSpec spec;
  spec.ipv6 = true;
  spec.payload = 5000;  // 4 segments
  const auto send = SendTcp(spec);  // to 02:..:0b, not yet known
  Run();

  for (uint16_t port = 0; port < kPortCount; ++port) {
    std::vector<std::vector<uint8_t>> segments;
    for (rte_mbuf* frame : Received(port)) segments.push_back(testing::ChainOctets(frame));
    EXPECT_EQ(CheckSegments(segments, spec, send), "") << "port " << port;
  }
  std::vector<std::vector<uint8_t>> written;
  for (const auto& message : TakeFromTap(kTapOut)) {
    ASSERT_GT(message.size(), sizeof(VirtioNetHeader));
    EXPECT_TRUE(std::all_of(message.begin(), message.begin() + sizeof(VirtioNetHeader),
                            [](uint8_t b) { return b == 0; }))
        << "a finished segment is written with an empty header";
    written.emplace_back(message.begin() + sizeof(VirtioNetHeader), message.end());
  }
  EXPECT_EQ(CheckSegments(written, spec, send), "") << "TAP port";
  EXPECT_EQ(pmd_->port_counters(kTapIn).flooded_packets.Load(), 1u);
  for (uint16_t port = 0; port < kPortCount; ++port) {
    EXPECT_EQ(pmd_->port_counters(port).segmented_sends.Load(), 1u) << port;
  }
  EXPECT_EQ(pmd_->port_counters(kTapOut).segmented_sends.Load(), 1u);
  for (uint16_t port = 0; port <= kTapOut; ++port) EXPECT_EQ(TotalDrops(port), 0u) << port;
  ReleaseHeld();
  CloseTaps();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "a segment or the send leaked";
}

// Frames software cannot finish are still dropped on their way to an ordinary port.
TEST_F(TapForwardingTest, FrameSoftwareCannotFinishIsDroppedAsOffloadUnsupported) {
  PublishWithTaps(true, true);
  Place(Mac(0xb), 1);
  SendOffloaded(Mac(0xb), Mac(0xa));  // a GSO header over octets that are not TCP
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), 1u);
  EXPECT_EQ(TotalDrops(1), 1u);
}

TEST_F(TapForwardingTest, OffloadedFloodWithNoTapToGoToIsDroppedOnItsInputPort) {
  PublishWithTaps(false);
  SendOffloaded(kBroadcast, Mac(0xa));
  Run();

  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_TRUE(TakeFromTap(kTapOut).empty());
  EXPECT_EQ(Drops(kTapIn, DropReason::kOffloadUnsupported), 1u);
  EXPECT_EQ(TotalDrops(kTapIn), 1u);
  EXPECT_EQ(pmd_->port_counters(kTapIn).flooded_packets.Load(), 0u);
  for (uint16_t port = 0; port < kPortCount; ++port) EXPECT_EQ(TotalDrops(port), 0u) << port;
}

// Past Forwarder::kMaxFrameSize only a frame with work left (a TCP send the
// kernel left whole) passes, and only up to what one TAP read holds.
TEST_F(TapForwardingTest, OnlyOffloadedFramesMayExceedTheJumboSize) {
  Place(Mac(0xb), kTapOut);
  struct Case {
    uint32_t size;
    bool offloaded;
    bool forwarded;
  };
  constexpr uint32_t kJumbo = Forwarder::kMaxFrameSize;
  const std::vector<Case> cases = {
      {kJumbo, false, true},
      {kJumbo + 1, false, false},
      {20000, false, false},
      {20000, true, true},
      {TapQueue::kMaxFrame, true, true},
      {TapQueue::kMaxFrame + 1, true, false},
  };
  uint64_t oversize = 0;
  for (const Case& c : cases) {
    const VirtioNetHeader header = c.offloaded ? kGsoHeader : VirtioNetHeader{};
    const auto sent = SendTap(header, Mac(0xb), Mac(0xa), c.size);
    Run();
    const auto out = TakeFromTap(kTapOut);
    if (c.forwarded) {
      ASSERT_EQ(out.size(), 1u) << c.size << (c.offloaded ? " offloaded" : " plain");
      EXPECT_EQ(out[0], Message(header, sent)) << c.size;
    } else {
      EXPECT_TRUE(out.empty()) << c.size << (c.offloaded ? " offloaded" : " plain");
      ++oversize;
    }
    EXPECT_EQ(Drops(kTapIn, DropReason::kOversize), oversize) << c.size;
  }
  EXPECT_EQ(TotalDrops(kTapIn), oversize);
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
}

// A burst of one conversation takes one lookup for all its frames (the fast
// path); the offload rule must still hold for every frame of it.
TEST_F(TapForwardingTest, OneConversationBurstOfOffloadedFramesIsNotSentToAnOrdinaryPort) {
  Place(Mac(0xb), 1);
  for (uint16_t i = 0; i < kBurst; ++i) SendOffloaded(Mac(0xb), Mac(0xa), 200);
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), kBurst);
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), 0u);

  // Plain and offloaded frames mixed: the plain ones go, in order.
  std::vector<std::vector<uint8_t>> plain;
  for (uint16_t i = 0; i < kBurst; ++i) {
    if (i % 2 == 0) {
      SendOffloaded(Mac(0xb), Mac(0xa), 200);
    } else {
      plain.push_back(SendPlain(Mac(0xb), Mac(0xa), 200));
    }
  }
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();
  const auto out = Received(1);
  ASSERT_EQ(out.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(Payload(out[i]), plain[i]) << i;
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), kBurst + kBurst / 2u);

  // Toward a TAP the whole burst goes, each frame with its header.
  Place(Mac(0xd), kTapOut);
  std::vector<std::vector<uint8_t>> sent;
  for (uint16_t i = 0; i < kBurst; ++i) sent.push_back(SendOffloaded(Mac(0xd), Mac(0xa), 200));
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();
  const auto written = TakeFromTap(kTapOut);
  ASSERT_EQ(written.size(), kBurst);
  for (uint16_t i = 0; i < kBurst; ++i) EXPECT_EQ(written[i], Message(kGsoHeader, sent[i])) << i;

  ReleaseHeld();
  CloseTaps();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "dropped frames leaked";
}

}  // namespace
}  // namespace dpbridge
