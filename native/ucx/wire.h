// Byte layouts the UCX engine exchanges with peers (all little-endian).
//
// Connection info:  "NXUC" | u8 version=5 | u8 workerCount | { u32 len | UCX worker address }*
//                   | u8 identityLen | process identity (process_identity.h; version 1 had none)
//                   | identityKey[32] (Ed25519) | exchangeKey[32] (X25519)   (since version 3)
//   Versions 1 and 2 are refused (kErrMismatch): their peers send unauthenticated messages;
//   version 3 too: its HELLO (no stamp) can be replayed; version 4: its refused HELLOs get
//   no answer, so its messages on that endpoint are lost. Versions 4 and 5 have version 3's
//   layout.
// Region public data: "NXUR" | u8 version=1 | u8 flags | 2 bytes zero | u64 regionId
//                    | packed UCX rkey
//   flags bit 0 (kRegionAcksNotifs): the region's owner acknowledges a kAmNotifAcked. Readers
//   before this flag ignore the byte (it was reserved), so they see a plain region.
// Active messages (version 5, am_auth.h): header = tag | sender agent name, data = body, where
//   tag = u8 version=5 | u64 session | u64 seq | mac[16]
//   mac = HMAC-SHA256(K, "nixl-ucx-v5 am" | u32 amId | u64 session | u64 seq | u16 fromLen | from
//                        | u16 toLen | to | body), first 16 bytes; K is the session's key.
//   kAmHello   header empty; body empty: the first message on every new endpoint (the
//              handshake, UcxEngine::SendHandshake), which the target ignores. Then, just
//              before the endpoint's first tagged message (UcxEngine::SessionState), one with
//              body = u8 version=5 | identityKey[32] | E[32] | u64 stamp | signature[64] | name,
//              followed by a kAmHelloQuery; tagged messages on the endpoint wait for the answer.
//              E is a fresh X25519 key; session = E's first 8 bytes (little-endian u64);
//              stamp = the sender's HELLO counter (CLOCK_REALTIME in µs at its start, +1 per
//              HELLO; the target refuses a stamp it saw or dropped, am_auth.h);
//              signature = Ed25519 by identityKey over "nixl-ucx-v5 hello" | target's
//              exchangeKey | E | identityKey | stamp | name;
//              K = HKDF-SHA256(salt "nixl-ucx-v5 key", X25519(E, target's exchangeKey),
//                              info = target's exchangeKey | E | identityKey | stamp | name).
//              The loopback endpoint to the agent itself sends only the empty one.
//   kAmHelloQuery  header empty; body = u8 version=5 | u64 session | zero[23] | name, sent with
//              UCX's reply flag (the HELLO is not: UCX drops a message with that flag whose
//              sender's endpoint is wired to one the target has closed since, e.g. by reloading
//              the sender's metadata). Never smaller than its answer.
//   kAmHelloAnswer header empty; body = u8 version=5 | u64 session | u8 verdict | u32 retryAfterMs
//              | mac[16] (30 bytes, smaller than any HELLO), on the query's reply endpoint; an
//              accepted HELLO's also on the target's own endpoint to the sender, if it has one.
//              verdict 1: accepted, mac = the tag's MAC (seq 0) under the session's K over the
//              body's first 14 bytes, from the target to the sender; verdict 3: the same, and
//              the target holds its own endpoint to the sender's worker of the same index (it
//              loaded the sender's metadata, both have as many workers): its kAmNotifAcks come
//              on it, so the sender's kAmNotifAcked go without the reply flag (a target that
//              loads the sender's metadata after sessions of it opened sends it then, for each,
//              on its new endpoints; the sender takes it for an open session only to say yes);
//              verdict 2: refused,
//              retry after retryAfterMs at the earliest with a new HELLO, mac zero. Refusals are
//              answered within a budget (am_auth.cc); the sender also retries unanswered.
//   kAmNotif   body = the notification bytes
//   kAmNotifAcked  body = u64 token | the notification bytes; only to an owner of regions with
//              kRegionAcksNotifs. The target answers kAmNotifAck with the token once the
//              notification is in its JavaScript queue: on its own endpoint to the sender if
//              the session's acceptance had verdict 3 (then sent without the reply flag, which
//              UCX would drop once the target remade its endpoints), else on the reply endpoint
//              (sent with UCX's reply flag).
//   kAmNotifAck    body = u64 token of the kAmNotifAcked it acknowledges; tagged by the target
//              under the session of that kAmNotifAcked (seq: the session's own count of replies)
//   kAmRevoke  body = u64 regionId of a region its owner deregistered
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "ucx/am_auth.h"
#include "ucx/process_identity.h"

namespace nixl::ucx {

constexpr unsigned kAmNotif = 0x4e31;        // 'N1'
constexpr unsigned kAmRevoke = 0x5231;       // 'R1'
constexpr unsigned kAmHello = 0x4831;        // 'H1'
constexpr unsigned kAmNotifAcked = 0x4e32;   // 'N2'
constexpr unsigned kAmNotifAck = 0x4131;     // 'A1'
constexpr unsigned kAmHelloAnswer = 0x4832;  // 'H2'
constexpr unsigned kAmHelloQuery = 0x4833;   // 'H3'

constexpr uint8_t kRegionAcksNotifs = 1;

constexpr uint8_t kConnMagic[4] = {'N', 'X', 'U', 'C'};
constexpr uint8_t kRegionMagic[4] = {'N', 'X', 'U', 'R'};
constexpr uint8_t kWireVersion = 1;  // region public data
constexpr uint8_t kConnVersion = 5;
constexpr uint8_t kAuthVersion = 5;  // HELLO bodies, their answers and message tags

// What a peer's connection info says.
struct PeerConnInfo {
  uint8_t version = 0;
  std::vector<std::vector<uint8_t>> addrs;
  ProcessIdentity who;  // unknown for version 1
  uint8_t identityKey[kKeySize] = {};
  uint8_t exchangeKey[kKeySize] = {};
};

inline std::vector<uint8_t> EncodeConnInfo(const std::vector<std::vector<uint8_t>>& addrs,
                                           const ProcessIdentity& self, const AgentKeys& keys) {
  std::vector<uint8_t> out(kConnMagic, kConnMagic + 4);
  out.push_back(kConnVersion);
  out.push_back(static_cast<uint8_t>(addrs.size()));
  for (const auto& a : addrs) {
    uint32_t len = static_cast<uint32_t>(a.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
    out.insert(out.end(), a.begin(), a.end());
  }
  std::vector<uint8_t> identity;
  self.Encode(&identity);
  out.push_back(static_cast<uint8_t>(identity.size()));
  out.insert(out.end(), identity.begin(), identity.end());
  out.insert(out.end(), keys.identityPublic, keys.identityPublic + kKeySize);
  out.insert(out.end(), keys.exchangePublic, keys.exchangePublic + kKeySize);
  return out;
}

// False if malformed. An older version decodes (ci->version says which) so
// that the caller can name it in its refusal.
inline bool DecodeConnInfo(const uint8_t* p, size_t len, PeerConnInfo* ci) {
  if (len < 6 || std::memcmp(p, kConnMagic, 4) != 0 || p[5] == 0) return false;
  uint8_t version = p[4];
  if (version < 1 || version > kConnVersion) return false;
  ci->version = version;
  std::vector<std::vector<uint8_t>>* addrs = &ci->addrs;
  size_t count = p[5];
  size_t off = 6;
  for (size_t i = 0; i < count; ++i) {
    if (off + 4 > len) return false;
    uint32_t n = 0;
    for (int b = 0; b < 4; ++b) n |= static_cast<uint32_t>(p[off + b]) << (8 * b);
    off += 4;
    if (n == 0 || off + n > len) return false;
    addrs->emplace_back(p + off, p + off + n);
    off += n;
  }
  if (version == 1) return off == len;
  if (off + 1 > len) return false;
  size_t n = p[off++];
  size_t keys = version >= 3 ? 2 * kKeySize : 0;
  if (off + n + keys != len || !ci->who.Decode(p + off, n)) return false;
  off += n;
  if (version < 3) return true;
  std::memcpy(ci->identityKey, p + off, kKeySize);
  std::memcpy(ci->exchangeKey, p + off + kKeySize, kKeySize);
  return true;
}

inline std::vector<uint8_t> EncodePublicData(uint64_t regionId, uint8_t flags, const uint8_t* rkey,
                                             size_t n) {
  std::vector<uint8_t> out(kRegionMagic, kRegionMagic + 4);
  out.push_back(kWireVersion);
  out.push_back(flags);
  out.insert(out.end(), 2, 0);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(regionId >> (8 * i)));
  out.insert(out.end(), rkey, rkey + n);
  return out;
}

inline bool DecodePublicData(const uint8_t* p, size_t len, uint64_t* regionId, uint8_t* flags,
                             const uint8_t** rkey, size_t* rkeyLen) {
  if (len <= 16 || std::memcmp(p, kRegionMagic, 4) != 0 || p[4] != kWireVersion) return false;
  *flags = p[5];
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id |= static_cast<uint64_t>(p[8 + i]) << (8 * i);
  *regionId = id;
  *rkey = p + 16;
  *rkeyLen = len - 16;
  return true;
}

}  // namespace nixl::ucx
