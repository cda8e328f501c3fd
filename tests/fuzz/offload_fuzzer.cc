// SPDX-License-Identifier: Apache-2.0
// offload_fuzzer: FinishOffloads on fuzzed virtio-net headers and frames, checked octet by octet.
//
// Each input becomes one frame as TapQueue delivers it (the header in the headroom, the offload
// flag set, an mbuf chain cut at fuzzed sizes), either wholly from the input or as a well-formed
// TCP send (tests/dataplane/tcp_frames.h) with fuzzed parameters and fuzzed octets written over
// it. A fuzzed number of the segment pool's mbufs is held back, so that it may run dry. After
// FinishOffloads the fuzzer checks that
//   - a refused frame (unsupported, no mbuf) is untouched and still flagged, and nothing leaked;
//   - a frame finished in place differs from the original at most in its checksum field, and
//     that checksum is right (when the field lies at an even distance from checksum_start);
//   - the segments of a cut send are chains that pass rte_mbuf_check, carry no flag, each hold
//     the send's headers (but for lengths, identification, sequence number, flags and
//     checksums) and the next MSS of its payload, with a right IPv4 header checksum and TCP
//     checksum (computed here independently), and together the whole payload;
//   - every mbuf is back in its pool once the segments are freed.
//
// Input layout: [kind + hold-back][first mbuf size][later mbuf size], then for kind 0 a 10-octet
// header and the frame's octets; for kinds 1-3 the send's parameters (flags, payload length,
// MSS) and pairs (offset, octet) to write over the frame.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../dataplane/tcp_frames.h"
#include "fuzz_eal.h"
#include "software_offload.h"

namespace dpbridge {
namespace {

using testing::Fold;
using testing::Get16;
using testing::Get32;
using testing::SumWords;

constexpr unsigned kFramePoolSize = 4095;
constexpr unsigned kSegmentPoolSize = 1023;

struct Fixture {
  rte_mempool* frames = nullptr;
  rte_mempool* segments = nullptr;
  uint64_t flag = 0;
};
Fixture* fixture = nullptr;

[[noreturn]] void Fail(const char* what, long a, long b) {
  std::fprintf(stderr, "offload_fuzzer: %s (%ld, %ld)\n", what, a, b);
  std::abort();
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  [[nodiscard]] size_t remaining() const { return size_ - at_; }
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t Word() { return static_cast<uint16_t>(Byte() | Byte() << 8); }
  std::vector<uint8_t> Rest(size_t most) {
    const size_t n = std::min(most, remaining());
    std::vector<uint8_t> out(data_ + at_, data_ + at_ + n);
    at_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

std::vector<uint8_t> Bytes(const rte_mbuf* frame) {
  const char* reason = nullptr;
  if (rte_mbuf_check(frame, 1, &reason) != 0) Fail(reason, 0, 0);
  std::vector<uint8_t> bytes = testing::ChainOctets(frame);
  if (bytes.size() != frame->pkt_len) Fail("chain length differs from pkt_len", 0, 0);
  return bytes;
}

// A frame finished in place: only the checksum field may differ, and it must be right.
void CheckInPlace(const VirtioNetHeader& header, const std::vector<uint8_t>& before,
                  const std::vector<uint8_t>& after) {
  if (after.size() != before.size()) Fail("in place: length changed", 0, 0);
  if ((header.flags & VirtioNetHeader::kNeedsChecksum) == 0) {
    if (after != before) Fail("in place without a checksum to do, yet changed", 0, 0);
    return;
  }
  const size_t start = header.checksum_start;
  const size_t field = start + header.checksum_offset;
  for (size_t i = 0; i < after.size(); ++i) {
    if (after[i] != before[i] && i != field && i != field + 1) Fail("in place: changed", 0, 0);
  }
  if ((field - start) % 2 != 0) return;  // the field straddles two words of the sum
  const uint32_t preset = Get16(before, field);
  if (Fold(SumWords(after, start, after.size(), preset)) != 0xffff) {
    Fail("in place: wrong checksum", static_cast<long>(start), static_cast<long>(field));
  }
}

// The segments of a cut send.
void CheckSegments(const VirtioNetHeader& header, const std::vector<uint8_t>& send,
                   rte_mbuf* const* segments, uint16_t count) {
  const bool ipv6 = (header.gso_type & 0x7f) == testing::kGsoTcpV6;
  const size_t tcp = header.checksum_start;
  const size_t headers = tcp + (send[tcp + 12] >> 4) * 4u;
  const size_t ip = send[12] == 0x81 && send[13] == 0x00 ? 18 : 14;
  const size_t mss = header.gso_size;
  if (count != (send.size() - headers + mss - 1) / mss) Fail("segment count", count, 0);

  for (uint16_t i = 0; i < count; ++i) {
    if ((segments[i]->ol_flags & fixture->flag) != 0) Fail("segment still flagged", i, 0);
    const std::vector<uint8_t> s = Bytes(segments[i]);
    const size_t from = headers + i * mss;
    const size_t size = std::min(mss, send.size() - from);
    if (s.size() != headers + size) Fail("segment length", i, static_cast<long>(s.size()));
    if (!std::equal(s.begin() + static_cast<long>(headers), s.end(),
                    send.begin() + static_cast<long>(from))) {
      Fail("segment payload is not the send's", i, 0);
    }
    // The headers: copied, but for the fields each segment has its own of.
    std::vector<uint8_t> expected(send.begin(), send.begin() + static_cast<long>(headers));
    std::vector<size_t> own = {tcp + 4, tcp + 5, tcp + 6, tcp + 7, tcp + 13, tcp + 16, tcp + 17};
    if (ipv6) {
      own.insert(own.end(), {ip + 4, ip + 5});
    } else {
      own.insert(own.end(), {ip + 2, ip + 3, ip + 4, ip + 5, ip + 10, ip + 11});
    }
    for (size_t at : own) expected[at] = s[at];
    if (!std::equal(expected.begin(), expected.end(), s.begin())) {
      Fail("segment headers differ from the send's", i, 0);
    }
    if (Get32(s, tcp + 4) != Get32(send, tcp + 4) + static_cast<uint32_t>(i * mss)) {
      Fail("sequence number", i, 0);
    }
    uint32_t pseudo;
    if (ipv6) {
      if (Get16(s, ip + 4) != s.size() - ip - 40) Fail("IPv6 payload length", i, 0);
      pseudo = SumWords(s, ip + 8, ip + 40);
    } else {
      if (Get16(s, ip + 2) != s.size() - ip) Fail("IPv4 total length", i, 0);
      if (Get16(s, ip + 4) != static_cast<uint16_t>(Get16(send, ip + 4) + i)) Fail("IPv4 id", i, 0);
      if (Fold(SumWords(s, ip, tcp)) != 0xffff) Fail("IPv4 header checksum", i, 0);
      pseudo = SumWords(s, ip + 12, ip + 20);
    }
    const size_t l4 = s.size() - tcp;
    pseudo += 6 + static_cast<uint32_t>(l4 >> 16) + (l4 & 0xffff);
    if (Fold(SumWords(s, tcp, s.size(), pseudo)) != 0xffff) Fail("TCP checksum", i, 0);
    const uint8_t flags = send[tcp + 13];
    uint8_t want = flags;
    if (i + 1 < count) want &= static_cast<uint8_t>(~(testing::kTcpFin | testing::kTcpPsh));
    if (i > 0) want &= static_cast<uint8_t>(~testing::kTcpCwr);
    if (s[tcp + 13] != want) Fail("TCP flags", i, s[tcp + 13]);
  }
}

}  // namespace
}  // namespace dpbridge

using namespace dpbridge;

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const uint64_t offload_flag = StartFuzzEal("offload_fuzzer", 256);
  fixture = new Fixture();
  fixture->flag = offload_flag;
  fixture->frames = rte_pktmbuf_pool_create("fuzz_frames", kFramePoolSize, 0, 0,
                                            RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  fixture->segments = rte_pktmbuf_pool_create("fuzz_segments", kSegmentPoolSize, 0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (fixture->frames == nullptr || fixture->segments == nullptr) Fail("pools", 0, rte_errno);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  Reader in(data, size);
  const uint8_t kind_and_hold = in.Byte();
  const size_t first = size_t{in.Byte()} * 16 + 14;  // 14 .. 4,094: any cut of the headers
  const size_t later = size_t{in.Byte()} * 8 + 1;    // 1 .. 2,041

  VirtioNetHeader header{};
  std::vector<uint8_t> bytes;
  if ((kind_and_hold & 3) == 0) {
    if (in.remaining() < sizeof(header)) return 0;
    const std::vector<uint8_t> raw = in.Rest(sizeof(header));
    std::memcpy(&header, raw.data(), sizeof(header));
    bytes = in.Rest(20000);
  } else {
    testing::TcpSendSpec spec;
    const uint8_t shape = in.Byte();
    spec.ipv6 = (shape & 1) != 0;
    spec.vlan = (shape & 2) != 0;
    spec.ecn = (shape & 4) != 0;
    spec.flags = static_cast<uint8_t>(testing::kTcpAck | (shape & 0x30) >> 1 | (shape >> 6 & 1));
    spec.payload = in.Word() % 65000;
    spec.mss = static_cast<uint16_t>(in.Word() % 9001);
    spec.seq = 0xffff0000u + in.Word();
    spec.ip_id = in.Word();
    const auto send = testing::TcpSend(spec);
    header = send.first;
    bytes = send.second;
    while (in.remaining() >= 3) {  // octets written over the frame (headers, mostly)
      const uint16_t at = in.Word();
      bytes[at % std::min<size_t>(bytes.size(), (kind_and_hold & 3) == 3 ? 128 : 65536)] =
          in.Byte();
    }
  }
  if (bytes.empty()) return 0;

  const unsigned baseline_frames = rte_mempool_in_use_count(fixture->frames);
  rte_mbuf* frame = testing::TapQueueFrame(fixture->frames, header, bytes, first, later);
  if (frame == nullptr) return 0;
  // Hold back part of the segment pool: a cut send may find it dry.
  std::vector<rte_mbuf*> held((kind_and_hold >> 2) * 16);
  if (!held.empty() &&
      rte_pktmbuf_alloc_bulk(fixture->segments, held.data(), static_cast<unsigned>(held.size()))) {
    Fail("holding back segment mbufs", static_cast<long>(held.size()), 0);
  }

  std::array<rte_mbuf*, kMaxSegments> out{};
  uint16_t count = 0;
  const OffloadOutcome outcome =
      FinishOffloads(frame, fixture->flag, fixture->segments, out.data(), &count);
  if (outcome != OffloadOutcome::kFinished) {
    if (count != 0) Fail("refused, yet segments reported", count, 0);
    if ((frame->ol_flags & fixture->flag) == 0) Fail("refused frame lost its flag", 0, 0);
    if (Bytes(frame) != bytes) Fail("refused frame was changed", 0, 0);
    if (rte_mempool_in_use_count(fixture->segments) != held.size()) {
      Fail("segments leaked", static_cast<long>(rte_mempool_in_use_count(fixture->segments)),
           static_cast<long>(held.size()));
    }
    rte_pktmbuf_free(frame);
  } else if (count == 1 && out[0] == frame) {
    if ((frame->ol_flags & fixture->flag) != 0) Fail("finished frame still flagged", 0, 0);
    CheckInPlace(header, bytes, Bytes(frame));
    rte_pktmbuf_free(frame);
  } else {
    if (count < 2 || header.gso_type == VirtioNetHeader::kGsoNone) Fail("cut, yet", count, 0);
    CheckSegments(header, bytes, out.data(), count);
    rte_pktmbuf_free_bulk(out.data(), count);
  }
  if (!held.empty()) rte_pktmbuf_free_bulk(held.data(), static_cast<unsigned>(held.size()));
  if (rte_mempool_in_use_count(fixture->segments) != 0) Fail("segment mbufs leaked", 0, 0);
  if (rte_mempool_in_use_count(fixture->frames) != baseline_frames) Fail("frame leaked", 0, 0);
  return 0;
}
