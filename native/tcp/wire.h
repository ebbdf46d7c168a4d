// The TCP data plane's wire format (see FRAMES.md next to this file): a fixed
// 48-byte little-endian header, then `len` payload bytes (READ_DATA adds a
// 4-byte status trailer after its payload).
#pragma once
#include <cstdint>
#include <cstring>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the frame codec copies headers as little-endian structs");

namespace nixl::tcp {

constexpr uint32_t kMagic = 0x3254584e;  // "NXT2"
constexpr size_t kHeaderSize = 48;

enum Op : uint8_t {
  kChallenge = 1,  // target -> initiator: 32-byte nonce
  kHello = 2,      // initiator -> target: MAC, nonce, identity key and signature, stream, name
  kHelloOk = 3,    // target -> initiator: accepted (flags: kFlagCma); MAC and signature
  kWrite = 4,      // initiator -> target: payload goes to (regionId, key, addr)
  kRead = 5,       // initiator -> target: asks for `len` bytes at (regionId, key, addr)
  kReadData = 6,   // target -> initiator: payload + 4-byte status trailer
  kAck = 7,        // target -> initiator: status of an acknowledged request (or NOTIF)
  kErr = 8,        // target -> initiator: an unacknowledged WRITE was refused
  kNotif = 9,      // initiator -> target: notification message
  kCmaWrite = 10,  // initiator -> target: same-host descriptor list, target pulls
  kCmaRead = 11,   // initiator -> target: same-host descriptor list, the initiator will pull
  kCmaGrant = 12,  // target -> initiator: the CMA_READ list is valid (status): pull now
  kCmaDone = 13,   // initiator -> target: pulled; the same list, answered by ACK
  kShmMap = 14,    // initiator -> target: may I map (regionId, key)?
  kShmGrant = 15,  // target -> initiator: status; on success the memfd (SCM_RIGHTS), addr, length
  kShmUnmap = 16,  // target -> initiator: unmap regionId (it is being deregistered)
  kShmUnmapped = 17,  // initiator -> target: regionId is unmapped here
};

enum Flags : uint8_t {
  kFlagAckReq = 1,  // WRITE: answer with ACK once the payload is in memory; NOTIF: once the
                    // notification is handed to the target's JavaScript (kFlagNotifAck)
  kFlagCma = 2,     // HELLO: the initiator asks for same-host copies; HELLO_OK: granted
  kFlagPullOnly =
      4,  // SHM_GRANT: no memfd; the initiator may READ the region with process_vm_readv
  kFlagNotifAck =
      8,  // HELLO: the initiator may set ACK_REQ on NOTIF; HELLO_OK: it will be answered
};

struct FrameHeader {
  uint32_t magic;
  uint8_t op;
  uint8_t flags;
  uint16_t reserved;
  int32_t status;
  uint32_t regionId;
  uint64_t xferId;
  uint64_t key;
  uint64_t addr;
  uint64_t len;
};
static_assert(sizeof(FrameHeader) == kHeaderSize);

// One descriptor of a CMA_WRITE / CMA_READ payload.
struct CmaEntry {
  uint64_t initiatorAddr;
  uint64_t targetAddr;
  uint64_t len;
  uint64_t key;
  uint32_t regionId;
  uint32_t reserved;
};
static_assert(sizeof(CmaEntry) == 40);

// Fixed part of the HELLO payload; the initiator's agent name follows. See
// FRAMES.md for what each field covers.
struct HelloFixed {
  uint8_t mac[32];  // HMAC-SHA256(target secret, "nixl-tcp-v2 hello" | nonceT | nonceI | publicKey
                    // | name)
  uint8_t nonce[32];      // nonceI: the initiator's challenge to the target
  uint8_t publicKey[32];  // the initiator's identity key (Ed25519)
  uint8_t signature[64];  // Ed25519 by publicKey over "nixl-tcp-v2 hello-sig" | nonceT | nonceI |
                          // target key | name
  uint32_t streamIndex;
  uint32_t nameLen;
};
static_assert(sizeof(HelloFixed) == 168);

// The HELLO_OK payload: the target proves its secret and its identity key.
struct HelloOk {
  uint8_t mac[32];        // HMAC-SHA256(target secret, "nixl-tcp-v2 ok" | nonceI | nonceT | flags)
  uint8_t signature[64];  // Ed25519 by the target's key over "nixl-tcp-v2 ok-sig" | nonceI | nonceT
                          // | initiator key | flags
};
static_assert(sizeof(HelloOk) == 96);

// Limits a target enforces; a frame beyond them closes the connection.
constexpr uint64_t kMaxDataFrame = 64ull << 20;  // WRITE/READ bytes per frame
constexpr uint64_t kMaxNotif = 1ull << 20;       // notification bytes
constexpr uint64_t kMaxCmaEntries = 1024;        // IOV_MAX
constexpr uint64_t kMaxHello = sizeof(HelloFixed) + 1024;
constexpr uint64_t kNonceSize = 32;
constexpr uint64_t kShmGrantPayload = 8;  // SHM_GRANT: the region's length, u64

inline FrameHeader MakeHeader(Op op, uint8_t flags, uint64_t xferId, uint64_t len) {
  FrameHeader h;
  std::memset(&h, 0, sizeof(h));
  h.magic = kMagic;
  h.op = op;
  h.flags = flags;
  h.xferId = xferId;
  h.len = len;
  return h;
}

}  // namespace nixl::tcp
