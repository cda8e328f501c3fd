// SPDX-License-Identifier: Apache-2.0
//
// TCP sends as a TAP with a virtio-net header hands them over (a 64 KB GSO
// frame with the checksum left to do), such frames in mbufs as a TapQueue
// delivers them, and checks of the segments made from them. The checksums here
// are computed octet by octet, independently of the DPDK helpers the dataplane
// uses, so that both are not wrong the same way. Shared by the dataplane
// tests, tests/fuzz/offload_fuzzer and bench/dataplane/offload_bench.
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "dpbridge/tap_queue.h"

namespace dpbridge::testing {

inline constexpr uint8_t kGsoTcpV4 = 1;  // VIRTIO_NET_HDR_GSO_TCPV4
inline constexpr uint8_t kGsoTcpV6 = 4;  // VIRTIO_NET_HDR_GSO_TCPV6
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpCwr = 0x80;

inline uint16_t Get16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
inline uint32_t Get32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t{Get16(b, at)} << 16 | Get16(b, at + 2);
}
inline void Put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void Put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  Put16(b, at, static_cast<uint16_t>(v >> 16));
  Put16(b, at + 2, static_cast<uint16_t>(v));
}

// Ones' complement sum of big-endian 16-bit words, not folded.
inline uint32_t SumWords(const std::vector<uint8_t>& b, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    sum += static_cast<uint32_t>(b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  }
  return sum;
}
inline uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

struct TcpSendSpec {
  bool ipv6 = false;
  bool vlan = false;
  uint32_t payload = 10000;
  uint16_t mss = 1448;
  uint8_t flags = kTcpAck | kTcpPsh | kTcpFin;
  uint32_t seq = 0xfffff000;  // wraps within a 64 KB send
  uint16_t ip_id = 0xfff0;    // wraps too
  bool ecn = false;
};

// Where the headers of a frame built by TcpSend lie.
struct TcpOffsets {
  size_t ip;
  size_t tcp;
  size_t payload;
};

inline TcpOffsets OffsetsOf(const TcpSendSpec& spec) {
  const size_t ip = spec.vlan ? 18 : 14;
  const size_t tcp = ip + (spec.ipv6 ? 40 : 20);
  return {ip, tcp, tcp + 32};  // 12 octets of TCP options (timestamps)
}

// The L4 pseudo-header sum of a frame laid out as `o` says (IPv4 or IPv6).
inline uint32_t PseudoSum(const std::vector<uint8_t>& f, const TcpOffsets& o, bool ipv6) {
  const size_t l4_length = f.size() - o.tcp;
  uint32_t sum = ipv6 ? SumWords(f, o.ip + 8, o.ip + 40) : SumWords(f, o.ip + 12, o.ip + 20);
  return sum + 6 + static_cast<uint32_t>(l4_length >> 16) + (l4_length & 0xffff);
}

// The frame (MACs 02:..:0b <- 02:..:0a) and the header the kernel would put
// before it: the TCP checksum field holds the pseudo-header sum, as Linux
// leaves it for the device to finish.
inline std::pair<VirtioNetHeader, std::vector<uint8_t>> TcpSend(const TcpSendSpec& spec) {
  const TcpOffsets o = OffsetsOf(spec);
  std::vector<uint8_t> f(o.payload + spec.payload);
  const uint8_t macs[12] = {2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa};
  std::copy(macs, macs + 12, f.begin());
  if (spec.vlan) {
    Put16(f, 12, 0x8100);
    Put16(f, 14, 7);
  }
  Put16(f, o.ip - 2, spec.ipv6 ? 0x86dd : 0x0800);
  if (spec.ipv6) {
    f[o.ip] = 0x60;
    Put16(f, o.ip + 4, static_cast<uint16_t>(f.size() - o.ip - 40));
    f[o.ip + 6] = 6;
    f[o.ip + 7] = 64;
    for (size_t i = 0; i < 32; ++i) f[o.ip + 8 + i] = static_cast<uint8_t>(i % 16 == 0 ? 0x20 : i);
  } else {
    f[o.ip] = 0x45;
    Put16(f, o.ip + 2, static_cast<uint16_t>(f.size() - o.ip));
    Put16(f, o.ip + 4, spec.ip_id);
    Put16(f, o.ip + 6, 0x4000);  // don't fragment
    f[o.ip + 8] = 64;
    f[o.ip + 9] = 6;
    const uint8_t addresses[8] = {198, 18, 0, 1, 198, 18, 0, 2};
    std::copy(addresses, addresses + 8, f.begin() + static_cast<long>(o.ip) + 12);
    Put16(f, o.ip + 10, static_cast<uint16_t>(~Fold(SumWords(f, o.ip, o.ip + 20))));
  }
  Put16(f, o.tcp, 40000);
  Put16(f, o.tcp + 2, 5201);
  Put32(f, o.tcp + 4, spec.seq);
  Put32(f, o.tcp + 8, 12345);
  f[o.tcp + 12] = 8 << 4;
  f[o.tcp + 13] = static_cast<uint8_t>(spec.flags | (spec.ecn ? kTcpCwr : 0));
  Put16(f, o.tcp + 14, 512);
  f[o.tcp + 20] = 1;  // NOP, NOP, timestamps
  f[o.tcp + 21] = 1;
  f[o.tcp + 22] = 8;
  f[o.tcp + 23] = 10;
  uint32_t state = spec.payload * 2654435761u + 7;
  for (size_t i = o.payload; i < f.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    f[i] = static_cast<uint8_t>(state >> 24);
  }
  Put16(f, o.tcp + 16, Fold(PseudoSum(f, o, spec.ipv6)));

  const uint8_t type = static_cast<uint8_t>((spec.ipv6 ? kGsoTcpV6 : kGsoTcpV4) |
                                            (spec.ecn ? 0x80 : 0));
  const VirtioNetHeader header{VirtioNetHeader::kNeedsChecksum, type,
                               static_cast<uint16_t>(o.payload), spec.mss,
                               static_cast<uint16_t>(o.tcp), 16};
  return {header, f};
}

// `bytes` as a TapQueue delivers a frame read with `header`: the header in the
// headroom just before the data, TapOffloadFlag() set, `first` octets in the
// first mbuf and the rest in mbufs of `later` octets (each at most what an
// mbuf holds). nullptr if `pool` ran dry, with nothing taken from it.
inline rte_mbuf* TapQueueFrame(rte_mempool* pool, const VirtioNetHeader& header,
                               const std::vector<uint8_t>& bytes, size_t first = 2048,
                               size_t later = 2048) {
  rte_mbuf* head = rte_pktmbuf_alloc(pool);
  if (head == nullptr) return nullptr;
  std::memcpy(rte_pktmbuf_mtod_offset(head, uint8_t*, -static_cast<int>(sizeof(header))),
              &header, sizeof(header));
  rte_mbuf* tail = head;
  size_t at = 0;
  while (true) {
    const size_t limit = tail == head ? first : later;
    const size_t n = std::min({bytes.size() - at, limit, size_t{rte_pktmbuf_tailroom(tail)}});
    std::memcpy(rte_pktmbuf_append(tail, static_cast<uint16_t>(n)), bytes.data() + at, n);
    if (tail != head) head->pkt_len += static_cast<uint32_t>(n);
    at += n;
    if (at == bytes.size()) break;
    rte_mbuf* next = rte_pktmbuf_alloc(pool);
    if (next == nullptr) {
      rte_pktmbuf_free(head);
      return nullptr;
    }
    tail->next = next;
    tail = next;
    ++head->nb_segs;
  }
  head->ol_flags |= TapOffloadFlag();
  return head;
}

// A frame's octets over its whole chain.
inline std::vector<uint8_t> ChainOctets(const rte_mbuf* frame) {
  std::vector<uint8_t> bytes;
  for (const rte_mbuf* m = frame; m != nullptr; m = m->next) {
    const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
    bytes.insert(bytes.end(), data, data + m->data_len);
  }
  return bytes;
}

// Empty if `segment` is a well-formed segment of the send `spec` describes
// (its index-th, `count` in all); else what is wrong with it.
inline std::string CheckSegment(const std::vector<uint8_t>& s, const TcpSendSpec& spec,
                                uint32_t index, uint32_t count) {
  const TcpOffsets o = OffsetsOf(spec);
  if (s.size() <= o.payload) return "too short";
  const size_t payload = s.size() - o.payload;
  const bool last = index + 1 == count;
  if (!last && payload != spec.mss) return "payload " + std::to_string(payload) + " != MSS";
  if (payload > spec.mss) return "payload larger than the MSS";
  if (spec.ipv6) {
    if (Get16(s, o.ip + 4) != s.size() - o.ip - 40) return "IPv6 payload length";
  } else {
    if (Get16(s, o.ip + 2) != s.size() - o.ip) return "IPv4 total length";
    if (Get16(s, o.ip + 4) != static_cast<uint16_t>(spec.ip_id + index)) return "IPv4 id";
    if (Fold(SumWords(s, o.ip, o.ip + 20)) != 0xffff) return "IPv4 header checksum";
  }
  if (Get32(s, o.tcp + 4) != spec.seq + index * uint32_t{spec.mss}) return "sequence number";
  uint8_t flags = spec.flags;
  if (!last) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
  if (spec.ecn && index == 0) flags |= kTcpCwr;
  if (s[o.tcp + 13] != flags) return "TCP flags " + std::to_string(s[o.tcp + 13]);
  if (Fold(SumWords(s, o.tcp, s.size(), PseudoSum(s, o, spec.ipv6))) != 0xffff) {
    return "TCP checksum";
  }
  return {};
}

}  // namespace dpbridge::testing
