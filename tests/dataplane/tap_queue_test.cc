// SPDX-License-Identifier: Apache-2.0
// Tests of TapQueue over a SOCK_SEQPACKET socketpair, which keeps message
// boundaries as a TAP does: one message is one virtio-net header and its frame.
#include "dpbridge/tap_queue.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "../common/eal_environment.h"

namespace dpbridge {
namespace {

[[maybe_unused]] const bool kEalRegistered = testing::RegisterEalEnvironment();

constexpr uint16_t kBurst = 32;
constexpr uint8_t kDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID: nothing left to do
constexpr uint8_t kGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
constexpr uint8_t kGsoTcpV6 = 4;   // VIRTIO_NET_HDR_GSO_TCPV6

// What the kernel puts before a TCP send over IPv4 that it left whole.
constexpr VirtioNetHeader kGsoHeader{VirtioNetHeader::kNeedsChecksum, kGsoTcpV4, 66, 1448, 34, 16};

// `size` octets that differ from frame to frame and never repeat with a short
// period, so a segment placed twice or out of order shows.
std::vector<uint8_t> FrameOf(uint32_t size, uint32_t seed) {
  std::vector<uint8_t> bytes(size);
  uint32_t state = seed * 2654435761u + 1;
  for (uint8_t& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<uint8_t>(state >> 24);
  }
  return bytes;
}

std::vector<uint8_t> Message(const VirtioNetHeader& header, const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> message(sizeof(header) + frame.size());
  std::memcpy(message.data(), &header, sizeof(header));
  std::copy(frame.begin(), frame.end(), message.begin() + sizeof(header));
  return message;
}

// The frame's octets, segment by segment, after checking that the chain adds up.
std::vector<uint8_t> ChainBytes(const rte_mbuf* frame) {
  const char* reason = nullptr;
  EXPECT_EQ(rte_mbuf_check(frame, 1, &reason), 0) << reason;
  std::vector<uint8_t> bytes;
  uint16_t segments = 0;
  for (const rte_mbuf* segment = frame; segment != nullptr; segment = segment->next) {
    const auto* data = rte_pktmbuf_mtod(segment, const uint8_t*);
    bytes.insert(bytes.end(), data, data + segment->data_len);
    ++segments;
  }
  EXPECT_EQ(segments, frame->nb_segs);
  EXPECT_EQ(bytes.size(), frame->pkt_len);
  return bytes;
}

// The header octets kept in the headroom just before the frame.
std::vector<uint8_t> HeaderBefore(const rte_mbuf* frame) {
  constexpr int kHeaderSize = sizeof(VirtioNetHeader);
  const auto* at = rte_pktmbuf_mtod_offset(frame, const uint8_t*, -kHeaderSize);
  return {at, at + sizeof(VirtioNetHeader)};
}

// A chain of `count` mbufs of `segment_size` octets each, built by hand as
// another driver would, holding FrameOf(count * segment_size, seed).
rte_mbuf* HandBuiltChain(rte_mempool* pool, uint16_t count, uint16_t segment_size,
                         uint32_t seed) {
  const std::vector<uint8_t> bytes = FrameOf(count * segment_size, seed);
  rte_mbuf* head = nullptr;
  for (uint16_t i = 0; i < count; ++i) {
    rte_mbuf* segment = rte_pktmbuf_alloc(pool);
    if (segment == nullptr) break;
    auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(segment, segment_size));
    std::copy_n(bytes.begin() + i * segment_size, segment_size, data);
    if (head == nullptr) {
      head = segment;
    } else if (rte_pktmbuf_chain(head, segment) != 0) {
      rte_pktmbuf_free(segment);
      break;
    }
  }
  EXPECT_TRUE(head != nullptr && head->nb_segs == count) << "could not build the chain";
  return head;
}

class TapQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::EalEnvironment::Pool();
    ASSERT_NE(pool_, nullptr) << "EAL did not start";
    flag_ = TapOffloadFlag();
    ASSERT_NE(flag_, 0u) << "rte_mbuf_dynflag_register failed";
    baseline_in_use_ = rte_mempool_in_use_count(pool_);
    Open(pool_);
  }

  void TearDown() override {
    for (rte_mbuf* frame : held_) rte_pktmbuf_free(frame);
    held_.clear();
    Close();
    if (pool_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "mbufs leaked";
    }
  }

  // A queue on `pool` over a fresh socketpair; the queue's end is non-blocking,
  // the test's end (peer_) blocks.
  void Open(rte_mempool* pool) {
    Close();
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0) << strerror(errno);
    ASSERT_EQ(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0) << strerror(errno);
    peer_ = fds[1];
    queue_ = std::make_unique<TapQueue>(fds[0], pool, flag_);
  }

  void Close() {
    queue_.reset();
    if (peer_ >= 0) close(peer_);
    peer_ = -1;
  }

  // What the kernel would write into the TAP.
  void PutRaw(const std::vector<uint8_t>& message) {
    ASSERT_EQ(send(peer_, message.data(), message.size(), 0),
              static_cast<ssize_t>(message.size()))
        << strerror(errno);
  }
  void Put(const VirtioNetHeader& header, const std::vector<uint8_t>& frame) {
    PutRaw(Message(header, frame));
  }

  // The next message the queue wrote, or nullopt if there is none.
  std::optional<std::vector<uint8_t>> Take() {
    std::vector<uint8_t> message(TapQueue::kMaxFrame + 2 * sizeof(VirtioNetHeader));
    const ssize_t n = recv(peer_, message.data(), message.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      EXPECT_EQ(errno, EAGAIN) << strerror(errno);
      return std::nullopt;
    }
    EXPECT_LE(static_cast<size_t>(n), message.size()) << "message truncated";
    message.resize(std::min(static_cast<size_t>(n), message.size()));
    return message;
  }

  // Receive(), with the frames held by the fixture until Transmit() or TearDown.
  std::vector<rte_mbuf*> Receive(uint16_t max) {
    std::vector<rte_mbuf*> frames(max);
    frames.resize(queue_->Receive(frames.data(), max));
    held_.insert(held_.end(), frames.begin(), frames.end());
    return frames;
  }

  void Transmit(const std::vector<rte_mbuf*>& frames) {
    for (rte_mbuf* frame : frames) std::erase(held_, frame);
    EXPECT_EQ(queue_->Transmit(frames.data(), static_cast<uint16_t>(frames.size())),
              frames.size());
  }

  rte_mempool* pool_ = nullptr;
  unsigned baseline_in_use_ = 0;
  uint64_t flag_ = 0;
  std::unique_ptr<TapQueue> queue_;
  int peer_ = -1;
  std::vector<rte_mbuf*> held_;
};

TEST_F(TapQueueTest, PlainFrameArrivesInOneMbufWithoutTheFlag) {
  const std::vector<uint8_t> sent = FrameOf(60, 1);
  Put(VirtioNetHeader{}, sent);

  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0]->nb_segs, 1);
  EXPECT_EQ(frames[0]->pkt_len, 60u);
  EXPECT_EQ(frames[0]->data_len, 60);
  EXPECT_EQ(ChainBytes(frames[0]), sent);
  EXPECT_EQ(frames[0]->ol_flags & flag_, 0u);

  const TapQueueStats stats = queue_->stats();
  EXPECT_EQ(stats.rx_packets, 1u);
  EXPECT_EQ(stats.rx_offloaded, 0u);
  EXPECT_EQ(stats.rx_errors, 0u);
}

TEST_F(TapQueueTest, EmptySocketGivesNothingAndCountsNoError) {
  EXPECT_TRUE(Receive(kBurst).empty());
  EXPECT_TRUE(Receive(1).empty());
  const TapQueueStats stats = queue_->stats();
  EXPECT_EQ(stats.rx_packets, 0u);
  EXPECT_EQ(stats.rx_errors, 0u);
  EXPECT_EQ(stats.rx_no_mbuf, 0u);
}

TEST_F(TapQueueTest, SegmentedFrameArrivesAsAChainWithItsHeaderAndTheFlag) {
  const std::vector<uint8_t> sent = FrameOf(40000, 2);
  Put(kGsoHeader, sent);

  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_GT(frames[0]->nb_segs, 1);
  EXPECT_EQ(frames[0]->pkt_len, 40000u);
  EXPECT_EQ(ChainBytes(frames[0]), sent);
  EXPECT_NE(frames[0]->ol_flags & flag_, 0u);
  EXPECT_EQ(HeaderBefore(frames[0]), Message(kGsoHeader, {}));

  const TapQueueStats stats = queue_->stats();
  EXPECT_EQ(stats.rx_packets, 1u);
  EXPECT_EQ(stats.rx_offloaded, 1u);
}

// Either kind of work flags a frame; a header with neither (DATA_VALID only,
// or lengths without a GSO type) leaves it plain.
TEST_F(TapQueueTest, ChecksumOrSegmentationWorkAloneSetsTheFlag) {
  struct Case {
    VirtioNetHeader header;
    bool flagged;
  };
  const std::vector<Case> cases = {
      {{VirtioNetHeader::kNeedsChecksum, VirtioNetHeader::kGsoNone, 0, 0, 34, 16}, true},
      {{0, kGsoTcpV4, 66, 1448, 0, 0}, true},
      {{0, kGsoTcpV6, 86, 1428, 0, 0}, true},
      {{kDataValid, VirtioNetHeader::kGsoNone, 0, 0, 0, 0}, false},
      {{0, VirtioNetHeader::kGsoNone, 66, 1448, 34, 16}, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) Put(cases[i].header, FrameOf(1000, i));

  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ((frames[i]->ol_flags & flag_) != 0, cases[i].flagged) << "case " << i;
  }
  EXPECT_EQ(queue_->stats().rx_offloaded, 3u);
}

TEST_F(TapQueueTest, LargestFrameArrivesWhole) {
  const std::vector<uint8_t> sent = FrameOf(TapQueue::kMaxFrame, 3);
  Put(kGsoHeader, sent);

  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0]->pkt_len, TapQueue::kMaxFrame);
  EXPECT_EQ(ChainBytes(frames[0]), sent);
}

TEST_F(TapQueueTest, FlaggedChainIsWrittenBackWithItsOwnHeader) {
  const std::vector<uint8_t> sent = FrameOf(40000, 4);
  Put(kGsoHeader, sent);
  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  const uint16_t segments = frames[0]->nb_segs;
  ASSERT_GT(segments, 1);

  const unsigned available = rte_mempool_avail_count(pool_);
  Transmit(frames);
  EXPECT_EQ(rte_mempool_avail_count(pool_), available + segments) << "segments not freed";

  const auto written = Take();
  ASSERT_TRUE(written.has_value());
  EXPECT_EQ(*written, Message(kGsoHeader, sent));
  EXPECT_FALSE(Take().has_value()) << "one frame, one message";
  EXPECT_EQ(queue_->stats().tx_packets, 1u);
  EXPECT_EQ(queue_->stats().tx_errors, 0u);
}

// A plain frame gets an all-zero header, whatever its headroom holds: here a
// frame read with a DATA_VALID header, and a chain another driver built.
TEST_F(TapQueueTest, UnflaggedFramesAreWrittenWithAZeroHeader) {
  const VirtioNetHeader data_valid{kDataValid, VirtioNetHeader::kGsoNone, 66, 1448, 34, 16};
  const std::vector<uint8_t> read_frame = FrameOf(1500, 5);
  Put(data_valid, read_frame);
  std::vector<rte_mbuf*> frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0]->ol_flags & flag_, 0u);

  rte_mbuf* chain = HandBuiltChain(pool_, 3, 700, 6);
  ASSERT_NE(chain, nullptr);
  held_.push_back(chain);
  frames.push_back(chain);

  const unsigned available = rte_mempool_avail_count(pool_);
  Transmit(frames);
  EXPECT_EQ(rte_mempool_avail_count(pool_), available + 1 + 3);

  const auto first = Take();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, Message(VirtioNetHeader{}, read_frame));
  const auto second = Take();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, Message(VirtioNetHeader{}, FrameOf(3 * 700, 6)));
  EXPECT_FALSE(Take().has_value());
  EXPECT_EQ(queue_->stats().tx_packets, 2u);
}

// A socket buffer smaller than the message makes the write fail (EMSGSIZE),
// as a TAP whose interface is gone would.
TEST_F(TapQueueTest, FailedWriteCountsAnErrorAndStillFreesTheFrame) {
  Put(kGsoHeader, FrameOf(40000, 7));
  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  const int send_buffer_size = 4096;
  ASSERT_EQ(setsockopt(queue_->fd(), SOL_SOCKET, SO_SNDBUF, &send_buffer_size,
                       sizeof(send_buffer_size)),
            0);

  const unsigned available = rte_mempool_avail_count(pool_);
  const uint16_t segments = frames[0]->nb_segs;
  Transmit(frames);
  EXPECT_EQ(rte_mempool_avail_count(pool_), available + segments);
  EXPECT_FALSE(Take().has_value());
  EXPECT_EQ(queue_->stats().tx_errors, 1u);
  EXPECT_EQ(queue_->stats().tx_packets, 0u);
}

// A chain of more segments than any read makes is refused, not cut short.
TEST_F(TapQueueTest, ChainLongerThanAnyReadIsRefusedWhole) {
  rte_mbuf* chain = HandBuiltChain(pool_, 40, 100, 8);
  ASSERT_NE(chain, nullptr);
  held_.push_back(chain);

  const unsigned available = rte_mempool_avail_count(pool_);
  Transmit({chain});
  EXPECT_EQ(rte_mempool_avail_count(pool_), available + 40);
  EXPECT_FALSE(Take().has_value());
  EXPECT_EQ(queue_->stats().tx_errors, 1u);
  EXPECT_EQ(queue_->stats().tx_packets, 0u);
}

TEST_F(TapQueueTest, MessagesWithoutAFrameCountAnErrorAndAreSkipped) {
  PutRaw({1, 2, 3, 4, 5});         // shorter than the header
  PutRaw(Message(kGsoHeader, {}));  // a header and nothing after it
  const std::vector<uint8_t> sent = FrameOf(60, 9);
  Put(VirtioNetHeader{}, sent);

  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(ChainBytes(frames[0]), sent);
  EXPECT_EQ(frames[0]->ol_flags & flag_, 0u);
  EXPECT_TRUE(Receive(kBurst).empty());

  const TapQueueStats stats = queue_->stats();
  EXPECT_EQ(stats.rx_errors, 2u);
  EXPECT_EQ(stats.rx_packets, 1u);
  EXPECT_EQ(stats.rx_offloaded, 0u);
}

// A descriptor that reads empty (here: the other end closed) ends the burst
// with one error instead of holding the PMD thread in the loop.
TEST_F(TapQueueTest, DescriptorAtItsEndEndsTheBurstWithOneError) {
  close(peer_);
  peer_ = -1;
  EXPECT_TRUE(Receive(kBurst).empty());
  EXPECT_EQ(queue_->stats().rx_errors, 1u);
  EXPECT_EQ(queue_->stats().rx_packets, 0u);
}

TEST_F(TapQueueTest, BurstsStopAtTheLimitAndKeepTheOrder) {
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < kBurst + 8; ++i) {
    sent.push_back(FrameOf(60 + i, 100 + i));
    Put(VirtioNetHeader{}, sent.back());
  }

  std::vector<rte_mbuf*> frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), kBurst);
  const auto rest = Receive(kBurst);
  ASSERT_EQ(rest.size(), 8u);
  EXPECT_TRUE(Receive(kBurst).empty());
  frames.insert(frames.end(), rest.begin(), rest.end());
  for (size_t i = 0; i < sent.size(); ++i) ASSERT_EQ(ChainBytes(frames[i]), sent[i]) << i;
  EXPECT_EQ(queue_->stats().rx_packets, kBurst + 8u);

  // A limit of one takes one frame at a time.
  for (uint32_t i = 0; i < 2; ++i) Put(VirtioNetHeader{}, FrameOf(60, 200 + i));
  EXPECT_EQ(Receive(1).size(), 1u);
  EXPECT_EQ(Receive(1).size(), 1u);
  EXPECT_TRUE(Receive(1).empty());
}

// With no mbuf to read into, the frame stays in the socket for a later call.
TEST_F(TapQueueTest, EmptyPoolLeavesTheFrameForALaterReceive) {
  rte_mempool* small = rte_pktmbuf_pool_create("tap_test_small", 255, 0, 0,
                                               RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(small, nullptr);
  Open(small);
  std::vector<rte_mbuf*> taken(rte_mempool_avail_count(small));
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(small, taken.data(), taken.size()), 0);
  const std::vector<uint8_t> sent = FrameOf(60, 10);
  Put(VirtioNetHeader{}, sent);

  EXPECT_TRUE(Receive(kBurst).empty());
  EXPECT_EQ(queue_->stats().rx_no_mbuf, 1u);
  EXPECT_EQ(queue_->stats().rx_errors, 0u);

  rte_pktmbuf_free_bulk(taken.data(), taken.size());
  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(ChainBytes(frames[0]), sent);

  for (rte_mbuf* frame : held_) rte_pktmbuf_free(frame);
  held_.clear();
  Close();
  EXPECT_EQ(rte_mempool_in_use_count(small), 0u) << "mbufs leaked";
  rte_mempool_free(small);
}

// The queue keeps mbufs ready for its next read; it gives them all back.
TEST_F(TapQueueTest, DestroyingTheQueueReturnsEveryMbuf) {
  Put(kGsoHeader, FrameOf(40000, 11));
  Put(VirtioNetHeader{}, FrameOf(60, 12));
  const auto frames = Receive(kBurst);
  ASSERT_EQ(frames.size(), 2u);
  Transmit(frames);
  ASSERT_TRUE(Take().has_value());
  ASSERT_TRUE(Take().has_value());
  EXPECT_GT(rte_mempool_in_use_count(pool_), baseline_in_use_) << "the queue holds no mbufs?";

  Close();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_);
}

}  // namespace
}  // namespace dpbridge
