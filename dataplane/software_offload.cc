// SPDX-License-Identifier: Apache-2.0
// FinishOffloads: checksums and TCP segmentation in software, for frames read from a tap-vnet port.
#include "software_offload.h"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "dpbridge/tap_queue.h"

namespace dpbridge {

namespace {

constexpr uint8_t kGsoTcpV4 = 1;     // VIRTIO_NET_HDR_GSO_TCPV4
constexpr uint8_t kGsoTcpV6 = 4;     // VIRTIO_NET_HDR_GSO_TCPV6
constexpr uint8_t kGsoEcn = 0x80;    // VIRTIO_NET_HDR_GSO_ECN: the send carries CWR
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint8_t kProtocolTcp = 6;
constexpr uint16_t kTcpChecksumOffset = 16;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;

inline uint16_t Load16(const uint8_t* at) noexcept {
  return static_cast<uint16_t>(at[0] << 8 | at[1]);
}
inline uint32_t Load32(const uint8_t* at) noexcept {
  return uint32_t{Load16(at)} << 16 | Load16(at + 2);
}
inline void Store16(uint8_t* at, uint16_t value) noexcept {
  at[0] = static_cast<uint8_t>(value >> 8);
  at[1] = static_cast<uint8_t>(value);
}
inline void Store32(uint8_t* at, uint32_t value) noexcept {
  Store16(at, static_cast<uint16_t>(value >> 16));
  Store16(at + 2, static_cast<uint16_t>(value));
}

// The checksum field's value for a ones' complement sum of 16-bit words (as
// loaded, in host order: the value is stored the same way). A result of zero
// is sent as its other form, 0xffff, as Linux does: zero means "no checksum"
// to UDP.
inline uint16_t ChecksumValue(uint32_t sum) noexcept {
  const auto value = static_cast<uint16_t>(~__rte_raw_cksum_reduce(sum));
  return value == 0 ? 0xffff : value;
}

// The ones' complement sum (folded to 16 bits) of `length` octets from
// `offset` in a chain, words paired from `offset` as if the octets were one
// run. DPDK 22.11's rte_raw_cksum_mbuf gets chains with odd-length pieces
// wrong: it cuts a piece's 32-bit sum to 16 bits before swapping its octets
// (found by tests/fuzz/offload_fuzzer), so this one folds first.
uint16_t ChainSum(const rte_mbuf* m, uint32_t offset, uint32_t length) noexcept {
  while (m != nullptr && offset >= m->data_len) {
    offset -= m->data_len;
    m = m->next;
  }
  uint32_t sum = 0;
  bool odd = false;  // whether an odd number of octets came before this piece
  for (; m != nullptr && length > 0; m = m->next, offset = 0) {
    const uint32_t n = std::min<uint32_t>(length, m->data_len - offset);
    uint16_t part = __rte_raw_cksum_reduce(
        __rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const uint8_t*, offset), n, 0));
    if (odd) part = rte_bswap16(part);
    sum += part;
    odd ^= (n & 1) != 0;
    length -= n;
  }
  return __rte_raw_cksum_reduce(sum);
}

// Where a TCP send's headers lie, from the frame's first mbuf.
struct TcpLayout {
  uint16_t ip = 0;       // offset of the IP header
  uint16_t tcp = 0;      // offset of the TCP header (the header's checksum_start)
  uint16_t headers = 0;  // octets of headers, copied into every segment
  bool ipv4 = false;
};

bool ParseTcpSend(const rte_mbuf* frame, const VirtioNetHeader& header, TcpLayout* layout) {
  const auto type = static_cast<uint8_t>(header.gso_type & ~kGsoEcn);
  if (type != kGsoTcpV4 && type != kGsoTcpV6) return false;
  if ((header.flags & VirtioNetHeader::kNeedsChecksum) == 0 ||
      header.checksum_offset != kTcpChecksumOffset || header.gso_size == 0) {
    return false;
  }
  const auto* bytes = rte_pktmbuf_mtod(frame, const uint8_t*);
  const uint32_t first = frame->data_len;  // every header must lie in the first mbuf
  uint32_t ip = 14;
  if (first < ip) return false;
  uint16_t ether_type = Load16(bytes + 12);
  if (ether_type == kEtherTypeVlan) {
    ip += 4;
    if (first < ip) return false;
    ether_type = Load16(bytes + 16);
  }
  uint32_t tcp;
  if (type == kGsoTcpV4) {
    if (ether_type != kEtherTypeIpv4 || first < ip + 20 || bytes[ip] >> 4 != 4 ||
        bytes[ip + 9] != kProtocolTcp) {
      return false;
    }
    tcp = ip + (bytes[ip] & 0x0fu) * 4;
    if (tcp < ip + 20) return false;
  } else {
    // Extension headers would sit between the two: not sent by Linux for TCP.
    if (ether_type != kEtherTypeIpv6 || first < ip + 40 || bytes[ip] >> 4 != 6 ||
        bytes[ip + 6] != kProtocolTcp) {
      return false;
    }
    tcp = ip + 40;
  }
  if (header.checksum_start != tcp || first < tcp + 20) return false;
  const uint32_t tcp_length = (bytes[tcp + 12] >> 4) * 4u;
  if (tcp_length < 20 || first < tcp + tcp_length) return false;
  *layout = {static_cast<uint16_t>(ip), static_cast<uint16_t>(tcp),
             static_cast<uint16_t>(tcp + tcp_length), type == kGsoTcpV4};
  return true;
}

// Fills in the checksum the header asks for: the field already holds the
// pseudo-header's sum, so the sum from checksum_start to the end is the answer.
OffloadOutcome FinishChecksum(rte_mbuf* frame, const VirtioNetHeader& header) noexcept {
  const uint32_t start = header.checksum_start;
  const uint32_t field = start + header.checksum_offset;
  if (start >= frame->pkt_len || field + 2 > frame->data_len) return OffloadOutcome::kUnsupported;
  const uint16_t value = ChecksumValue(ChainSum(frame, start, frame->pkt_len - start));
  std::memcpy(rte_pktmbuf_mtod_offset(frame, uint8_t*, field), &value, sizeof(value));
  return OffloadOutcome::kFinished;
}

// A new frame: the first `headers` octets of `frame`, then `size` octets from
// `offset`, in as many mbufs as it takes. nullptr if the pool runs dry.
rte_mbuf* CopySegment(const rte_mbuf* frame, uint32_t headers, uint32_t offset, uint32_t size,
                      rte_mempool* pool) noexcept {
  rte_mbuf* head = rte_pktmbuf_alloc(pool);
  if (head == nullptr) return nullptr;
  char* at = rte_pktmbuf_append(head, static_cast<uint16_t>(headers));
  if (at == nullptr) {
    rte_pktmbuf_free(head);
    return nullptr;
  }
  std::memcpy(at, rte_pktmbuf_mtod(frame, const uint8_t*), headers);

  rte_mbuf* tail = head;
  while (size > 0) {
    if (rte_pktmbuf_tailroom(tail) == 0) {
      rte_mbuf* next = rte_pktmbuf_alloc(pool);
      if (next == nullptr) {
        rte_pktmbuf_free(head);
        return nullptr;
      }
      next->data_off = 0;  // a continuation needs no headroom
      tail->next = next;
      tail = next;
      ++head->nb_segs;
    }
    const uint32_t chunk = std::min<uint32_t>(size, rte_pktmbuf_tailroom(tail));
    uint8_t* to = rte_pktmbuf_mtod_offset(tail, uint8_t*, tail->data_len);
    // Points into `frame` when the range lies in one of its mbufs, else copies into `to`.
    const void* from = rte_pktmbuf_read(frame, offset, chunk, to);
    if (from != to) std::memcpy(to, from, chunk);
    tail->data_len = static_cast<uint16_t>(tail->data_len + chunk);
    head->pkt_len += chunk;
    offset += chunk;
    size -= chunk;
  }
  return head;
}

// Sets the lengths, identification, sequence number, flags and checksums of
// segment `index` of `count`, whose payload starts `sent` octets into the send.
void FixSegment(rte_mbuf* segment, const TcpLayout& layout, const uint8_t* original,
                uint32_t index, uint32_t count, uint32_t sent) noexcept {
  auto* bytes = rte_pktmbuf_mtod(segment, uint8_t*);
  uint8_t* ip = bytes + layout.ip;
  uint8_t* tcp = bytes + layout.tcp;
  const uint32_t ip_length = segment->pkt_len - layout.ip;
  uint16_t pseudo;
  if (layout.ipv4) {
    auto* ipv4 = reinterpret_cast<rte_ipv4_hdr*>(ip);
    Store16(ip + 2, static_cast<uint16_t>(ip_length));
    Store16(ip + 4, static_cast<uint16_t>(Load16(original + layout.ip + 4) + index));
    ipv4->hdr_checksum = 0;
    ipv4->hdr_checksum = rte_ipv4_cksum(ipv4);
    pseudo = rte_ipv4_phdr_cksum(ipv4, 0);
  } else {
    Store16(ip + 4, static_cast<uint16_t>(ip_length - 40));
    pseudo = rte_ipv6_phdr_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), 0);
  }
  Store32(tcp + 4, Load32(original + layout.tcp + 4) + sent);
  uint8_t flags = original[layout.tcp + 13];
  if (index + 1 < count) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));  // the last only
  if (index > 0) flags &= static_cast<uint8_t>(~kTcpCwr);                     // the first only
  tcp[13] = flags;

  tcp[kTcpChecksumOffset] = 0;
  tcp[kTcpChecksumOffset + 1] = 0;
  const uint16_t sum = ChainSum(segment, layout.tcp, segment->pkt_len - layout.tcp);
  const uint16_t value = ChecksumValue(uint32_t{pseudo} + sum);
  std::memcpy(tcp + kTcpChecksumOffset, &value, sizeof(value));
}

}  // namespace

OffloadOutcome FinishOffloads(rte_mbuf* frame, uint64_t offload_flag, rte_mempool* pool,
                              rte_mbuf** out, uint16_t* count) noexcept {
  const auto& header = *rte_pktmbuf_mtod_offset(
      frame, const VirtioNetHeader*, -static_cast<int>(sizeof(VirtioNetHeader)));
  *count = 0;

  TcpLayout layout;
  const bool tcp_send = header.gso_type != VirtioNetHeader::kGsoNone;
  if (tcp_send && !ParseTcpSend(frame, header, &layout)) return OffloadOutcome::kUnsupported;
  const uint32_t payload = tcp_send ? frame->pkt_len - layout.headers : 0;
  const uint32_t mss = header.gso_size;

  // A send that fits one segment, or a frame with only a checksum to do.
  if (!tcp_send || payload <= mss) {
    if ((header.flags & VirtioNetHeader::kNeedsChecksum) != 0) {
      const OffloadOutcome outcome = FinishChecksum(frame, header);
      if (outcome != OffloadOutcome::kFinished) return outcome;
    }
    frame->ol_flags &= ~offload_flag;
    out[0] = frame;
    *count = 1;
    return OffloadOutcome::kFinished;
  }

  const uint32_t segments = (payload + mss - 1) / mss;
  if (segments > kMaxSegments) return OffloadOutcome::kUnsupported;
  const auto* original = rte_pktmbuf_mtod(frame, const uint8_t*);
  for (uint32_t i = 0; i < segments; ++i) {
    const uint32_t sent = i * mss;
    rte_mbuf* segment = CopySegment(frame, layout.headers, layout.headers + sent,
                                    std::min(mss, payload - sent), pool);
    if (segment == nullptr) {
      rte_pktmbuf_free_bulk(out, i);
      return OffloadOutcome::kNoMbuf;
    }
    FixSegment(segment, layout, original, i, segments, sent);
    out[i] = segment;
  }
  rte_pktmbuf_free(frame);
  *count = static_cast<uint16_t>(segments);
  return OffloadOutcome::kFinished;
}

}  // namespace dpbridge
