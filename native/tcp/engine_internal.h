// What the TCP engine's source files share (engine.cc, posting.cc,
// connections.cc, receiving.cc, handshake.cc, initiating.cc): the status and
// size constants, small socket helpers, and the state the I/O thread keeps.
// Not part of the engine's interface (that is engine.h).
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "common/crypto.h"
#include "common/status.h"
#include "common/status_slots.h"
#include "tcp/engine.h"
#include "tcp/ring.h"

namespace nixl::tcp {

// Set on an engine's I/O thread (Run): its settles are SharedCpuRegime's samples.
inline thread_local bool tOnIoThread = false;

// What a payload the engine must send but has no bytes for is filled with
// (read-only, shared by every engine: constant data, not state).
inline constexpr uint8_t kZeroPayload[64 << 10] = {};

inline constexpr uint64_t kListenTag = 1;
inline constexpr uint64_t kEventTag = 2;
inline constexpr uint64_t kUnixListenTag = 3;
inline constexpr uint64_t kPollWatchTag = 4;
inline constexpr size_t kRecvBuf = 256 << 10;
// Until its HELLO verifies, a connection reads into this much (a HELLO is at
// most kMaxHello + a header, read in a few calls): an unauthenticated peer
// costs a few KiB, not a receive buffer.
inline constexpr size_t kPreAuthRecvBuf = 2 << 10;
// Unauthenticated incoming connections at once; past it the oldest is dropped
// for the newcomer, so a flood cannot keep a legitimate peer out for longer
// than its own handshake takes.
inline constexpr size_t kMaxUnauthenticated = 1024;
// After accept() fails for lack of descriptors or memory, accepting pauses this long.
inline constexpr uint64_t kAcceptPauseNs = 100'000'000;
inline constexpr uint64_t kDirectRecvMin = 64 << 10;
// A READ answer received in place keeps this many of the payload's first
// bytes out of the destination until its header is known: a refused answer's
// trailer (4 bytes) lands there instead (read_in_place.cc).
inline constexpr size_t kInPlaceStash = 4;
inline constexpr uint64_t kMaxRecvCall = 16 << 20;
inline constexpr uint64_t kReadBudget = 32 << 20;
inline constexpr int kMaxIov = 512;
inline constexpr size_t kMaxIncoming = 4096;
// A served connection whose replies pile up (a peer that asks but does not
// read) is not read from until they drain: backpressure, not unbounded queues.
// Only target-side connections: an initiator always reads its answers.
inline constexpr size_t kMaxQueuedReplies = 4096;
// Shared memory: map requests per peer, and descriptors an initiator holds
// received and not yet used (a target sends one per grant it was asked for).
inline constexpr size_t kMaxShmAsks = 4096;
inline constexpr size_t kMaxRxFds = 16;
inline constexpr uint8_t kShmAsked = 1;
inline constexpr uint8_t kShmRefused = 2;
inline constexpr uint8_t kShmMapped = 3;
inline void FillRandom(void* p, size_t n) { crypto::RandomBytes(p, n); }

// The bytes a handshake MAC or signature covers: a label, then the parts.
struct Transcript {
  std::vector<uint8_t> bytes;
  explicit Transcript(const char* label) { Add(label, std::strlen(label)); }
  Transcript& Add(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  Transcript& Add(const std::string& s) { return Add(s.data(), s.size()); }
  void Mac(const uint8_t secret[32], uint8_t out[32]) const {
    crypto::HmacSha256(secret, 32, bytes.data(), bytes.size(), out);
  }
};

inline void SetSocketOptions(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Whether a TCP peer address is this host's loopback (127.0.0.0/8, ::1, or
// an IPv4-mapped 127.x address).
inline bool IsLoopback(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss).sin_addr;
    return (ntohl(a.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

// The congestion control a TCP connection to `peer` uses (EngineConfig::
// tcpCongestion): "" keeps the system default. Loopback under "auto" gets
// reno: the system default here, BBR, paces every connection at its
// bandwidth estimate, and on loopback (no loss, no queue to protect) that
// pacing held single transfers of 1-8 MiB to about half of what an unpaced
// connection moves (bench/cli/results/2026-12-socket-cliff/). reno is the
// algorithm every unprivileged process may choose.
inline const char* CongestionFor(const std::string& cfg, const sockaddr_storage& peer) {
  if (cfg == "auto") return IsLoopback(peer) ? "reno" : "";
  if (cfg == "system") return "";
  return cfg.c_str();
}

// Sets it; false (errno set) when the kernel refused the name.
inline bool SetCongestion(int fd, const char* name) {
  if (name[0] == '\0') return true;
  return setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, std::strlen(name)) == 0;
}

inline bool ParseAddr(const std::string& host, int port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// State kept by the I/O thread.

struct TxItem {
  FrameHeader hdr;
  const uint8_t* payload = nullptr;  // nullptr with len > 0: send zeros (revoked region)
  uint64_t len = 0;
  uint64_t sent = 0;
  std::vector<uint8_t> owned;
  uint32_t srcRegion = 0;  // target READ_DATA: re-checked before every send
  uint64_t srcKey = 0;
  bool trailer = false;
  int32_t trailerStatus = 0;
  int passFd = -1;  // SHM_GRANT: a descriptor sent with the frame's first byte (owned)
  uint64_t Total() const { return kHeaderSize + len + (trailer ? 4 : 0); }
};

struct Engine::Conn {
  enum State { kConnecting, kWaitChallenge, kWaitHelloOk, kWaitHello, kReady, kClosed };
  enum Sink { kRegionSink, kMemSink, kDiscard, kBuf, kTrailer };
  struct PendingRead {
    uint64_t xferId;
    uint64_t laddr;
    uint64_t len;
  };

  int fd = -1;
  uint64_t id = 0;  // unique in this engine (shared-memory grants name it)
  bool outgoing = false;
  Peer* peer = nullptr;
  uint32_t streamIndex = 0;
  State state = kConnecting;
  uint32_t interest = 0;
  uint8_t nonce[32];    // the target's challenge (nonceT), on both sides
  uint8_t myNonce[32];  // outgoing: the initiator's challenge to the target (nonceI)
  std::string remoteName;
  uint8_t remoteKey[32];   // incoming: the initiator's identity key, once verified
  bool bound = false;      // incoming: holds a reference on bindings_[remoteName]
  bool viaUnix = false;    // a same-host Unix socket: the kernel vouches for the peer
  uint32_t remotePid = 0;  // via Unix: from SO_PEERCRED, never from the peer
  int remotePidFd = -1;    // outgoing via Unix: that process, to tell it exited (pull grants)
  uint32_t remoteUid = 0;
  bool cma = false;
  uint64_t createdNs = 0;
  uint64_t refusedXfer = 0;   // target side: the last transfer with a refused request
  int32_t refusedStatus = 0;  // and why it was refused (the ACK of its NOTIF says so)
  void NoteRefused(uint64_t xferId, int32_t status) {
    refusedXfer = xferId;
    refusedStatus = status;
  }

  std::vector<uint8_t> rbuf;
  size_t rpos = 0;
  size_t rend = 0;
  bool inPayload = false;
  FrameHeader cur;
  Sink sink = kDiscard;
  uint8_t* dst = nullptr;
  uint64_t remaining = 0;
  int32_t payStatus = 0;
  std::vector<uint8_t> pbuf;
  uint8_t trailer[4];
  size_t trailerGot = 0;
  // The last frame's payload went straight to its destination (RecvDirect):
  // the next frame's header is read alone, so that a payload as large goes
  // there too instead of through rbuf and a copy.
  bool headerAlone = false;

  Ring<PendingRead> reads;
  // Initiator: ACKs still due on this connection (WRITE and NOTIF with ACK_REQ).
  uint32_t answersDue = 0;
  // Initiator, same host: the lists of CMA_READs sent and not granted yet.
  struct PendingCmaRead {
    uint64_t xferId;
    std::vector<uint8_t> entries;
  };
  std::deque<PendingCmaRead> cmaReads;
  Ring<TxItem> txq;
  bool inDirty = false;
  bool registered = false;  // in the epoll set
  // A posting thread reads this connection itself (busy_poll_us), so the I/O
  // thread must not be woken for its input meanwhile.
  bool quiet = false;
  // Initiator via Unix: descriptors received (SHM_GRANT's memfd), in order.
  std::deque<int> rxFds;
  // Bytes received so far (RecvSome): the spinning target's look at this
  // connection read something (busy_poll_us, LookOnServed). Last, so that
  // the fields above keep their places.
  uint64_t bytesIn = 0;

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    for (TxItem& t : txq) {
      if (t.passFd >= 0) close(t.passFd);
    }
    for (int f : rxFds) close(f);
    if (remotePidFd >= 0) close(remotePidFd);
  }
};

// A target region this engine mapped (shared memory), or may pull from
// (a pull grant: local is null), per peer. Unmapped when destroyed: on
// SHM_UNMAP, when the peer fails or is removed, at Join.
struct Engine::ShmMap {
  uint64_t base = 0;  // the region's address in the target
  uint64_t len = 0;
  uint64_t key = 0;
  uint8_t* local = nullptr;  // where it is mapped here; null for a pull grant
  ShmMap() = default;
  ShmMap(const ShmMap&) = delete;
  ShmMap& operator=(const ShmMap&) = delete;
  ~ShmMap() {
    if (local != nullptr) munmap(local, len);
  }
};

struct Engine::Peer {
  enum State { kIdle, kConnecting, kReady, kFailed };
  uint32_t id = 0;
  std::string name;
  std::string host;
  int port = 0;
  uint8_t secret[32];
  uint8_t publicKey[32];  // its identity key, from its metadata
  std::string unixName;
  bool sameHost = false;
  State state = kIdle;
  std::vector<Conn*> streams;
  size_t authed = 0;
  std::vector<Xfer*> waiting;
  std::vector<uint32_t> tokens;
  std::vector<std::vector<uint8_t>> waitingNotifs;
  uint32_t inflight = 0;
  uint64_t lastProgressNs = 0;
  // Set while its connections stay masked after a busy-poll post (see
  // TryRunInline); 0 when the I/O thread watches them.
  uint64_t quietSinceNs = 0;
  uint64_t connectStartNs = 0;
  bool cma = false;
  // Its stream 0 answers a NOTIF that asks for it (kFlagNotifAck): a transfer
  // with a notification is DONE once the target has the notification.
  bool notifAck = false;
  uint32_t rr = 0;
  // Shared memory: what this engine mapped of the peer's regions, and what it
  // asked for (kShmAsked, kShmRefused: never asked again; at most kMaxShmAsks).
  std::unordered_map<uint32_t, std::unique_ptr<ShmMap>> shmMaps;
  std::unordered_map<uint32_t, uint8_t> shmAsked;
};

struct Engine::Xfer {
  uint32_t slot = 0;
  int32_t* statusSlot = nullptr;  // where the slot lives (common/status_slots.h)
  XferOp op = XferOp::kWrite;
  uint32_t peerId = 0;
  std::vector<XferDesc> descs;
  uint32_t gen = 0;
  bool active = false;
  bool waiting = false;
  int pending = 0;
  int32_t status = 0;
  std::string err;
  bool hasNotif = false;
  bool notifAfter = false;
  bool pullFailed = false;  // a same-host READ's pull failed (see PullCmaRead)
  // Progress completed the current post on a second or later poll: its
  // caller polls, so the next inline post leaves the answer to it (see
  // LeaveToPoller). A caller that looks once and then awaits never sets it.
  bool polled = false;
  uint32_t polls = 0;  // Progress calls for the current post
  // The current post was left to its polling caller (LeaveToPoller): its
  // polls read the answer and send what the socket did not take at once.
  bool leftToPoller = false;
  // poll_progress=auto: the CPU its caller posted it from, when the I/O
  // thread's settle of it is a sample for SharedCpuRegime (small, socket);
  // else -1.
  int postCpu = -1;
  std::vector<uint8_t> notif;
  uint64_t Id() const { return (uint64_t(slot) << 32) | gen; }
};

struct Engine::Cmd {
  enum Kind { kAddPeer, kRemovePeer, kConnect, kPrep, kPost, kRelease, kGenNotif, kStopPolling };
  Kind kind = kPost;
  uint32_t a = 0;
  uint32_t b = 0;
  int32_t* statusSlot = nullptr;  // kRelease: the slot to free
  bool flag = false;
  // kPost, poll_progress=auto: the posting thread's CPU, and whether its
  // caller reads the answer (SharedCpuRegime::LeaveToCaller).
  int cpu = -1;
  bool callerReads = false;
  bool sharedCpu = false;  // the regime was on (callerReads, or a probe)
  std::unique_ptr<Peer> peer;
  std::unique_ptr<Xfer> xfer;
  std::vector<uint8_t> bytes;
};

}  // namespace nixl::tcp
