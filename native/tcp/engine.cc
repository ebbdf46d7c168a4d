#include "tcp/engine.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
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

namespace nixl::tcp {
namespace {

// NIXL status values used on the wire and in the slots.
constexpr int32_t kInProg = 1;
constexpr int32_t kSuccess = 0;
constexpr int32_t kErrInvalidParam = -2;
constexpr int32_t kErrBackend = -3;
constexpr int32_t kErrNotFound = -4;
constexpr int32_t kErrNotAllowed = -6;
constexpr int32_t kErrRemoteDisconnect = -10;

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kEventTag = 2;
constexpr uint64_t kUnixListenTag = 3;
constexpr size_t kRecvBuf = 256 << 10;
// Until its HELLO verifies, a connection reads into this much (a HELLO is at
// most kMaxHello + a header, read in a few calls): an unauthenticated peer
// costs a few KiB, not a receive buffer.
constexpr size_t kPreAuthRecvBuf = 2 << 10;
// Unauthenticated incoming connections at once; past it the oldest is dropped
// for the newcomer, so a flood cannot keep a legitimate peer out for longer
// than its own handshake takes.
constexpr size_t kMaxUnauthenticated = 1024;
// After accept() fails for lack of descriptors or memory, accepting pauses this long.
constexpr uint64_t kAcceptPauseNs = 100'000'000;
constexpr uint64_t kDirectRecvMin = 64 << 10;
constexpr uint64_t kMaxRecvCall = 16 << 20;
constexpr uint64_t kReadBudget = 32 << 20;
constexpr int kMaxIov = 512;
constexpr size_t kMaxIncoming = 4096;
// A served connection whose replies pile up (a peer that asks but does not
// read) is not read from until they drain: backpressure, not unbounded queues.
// Only target-side connections: an initiator always reads its answers.
constexpr size_t kMaxQueuedReplies = 4096;
void FillRandom(void* p, size_t n) { crypto::RandomBytes(p, n); }

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

void SetSocketOptions(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool ParseAddr(const std::string& host, int port, sockaddr_storage* ss, socklen_t* len) {
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

inline void StoreSlot(int32_t* slots, uint32_t slot, int32_t v) {
  __atomic_store_n(&slots[slot], v, __ATOMIC_RELEASE);
}

}  // namespace

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
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
  uint32_t remotePid = 0;  // incoming via Unix: from SO_PEERCRED, never from the peer
  uint32_t remoteUid = 0;
  bool cma = false;
  uint64_t createdNs = 0;
  uint64_t refusedXfer = 0;  // target side: the last transfer with a refused request

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

  std::deque<PendingRead> reads;
  std::deque<TxItem> txq;
  bool inDirty = false;
  bool registered = false;  // in the epoll set
  // A posting thread reads this connection itself (busy_poll_us), so the I/O
  // thread must not be woken for its input meanwhile.
  bool quiet = false;
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
  uint32_t rr = 0;
};

struct Engine::Xfer {
  uint32_t slot = 0;
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
  std::vector<uint8_t> notif;
  uint64_t Id() const { return (uint64_t(slot) << 32) | gen; }
};

struct Engine::Cmd {
  enum Kind { kAddPeer, kRemovePeer, kConnect, kPrep, kPost, kRelease, kGenNotif };
  Kind kind = kPost;
  uint32_t a = 0;
  uint32_t b = 0;
  bool flag = false;
  std::unique_ptr<Peer> peer;
  std::unique_ptr<Xfer> xfer;
  std::vector<uint8_t> bytes;
};

// ---------------------------------------------------------------------------
// Lifetime.

// What a payload the engine must send but has no bytes for is filled with
// (read-only, shared by every engine: constant data, not state).
const uint8_t kZeroPayload[64 << 10] = {};

Engine::Engine(EngineConfig cfg, int32_t* slots, uint32_t capacity, std::function<void()> wake,
               std::function<void()> onExit)
    : cfg_(std::move(cfg)),
      slots_(slots),
      capacity_(capacity),
      wake_(std::move(wake)),
      onExit_(std::move(onExit)),
      copyPool_(std::make_unique<VmCopyPool>(cfg_.copyThreads)) {
  FillRandom(secret_, sizeof(secret_));
  if (!crypto::Ed25519PublicKey(cfg_.identitySeed, publicKey_)) {
    throw std::runtime_error("the identity key is not a valid Ed25519 seed");
  }
  cmds_ = new std::vector<Cmd>();
  cmdsSpare_ = new std::vector<Cmd>();
  cmds_->reserve(256);
  cmdsSpare_->reserve(256);
  xfers_.resize(capacity_);
  for (uint32_t i = 0; i < capacity_; i++) StoreSlot(slots_, i, kSlotFree);
  const char* dbg = getenv("NIXL_TCP_DEBUG");
  debug_ = dbg != nullptr && dbg[0] == '1';
}

Engine::~Engine() {
  Stop();
  delete cmds_;
  delete cmdsSpare_;
}

void Engine::Start() {
  sockaddr_storage ss;
  socklen_t sl;
  if (!ParseAddr(cfg_.bindAddr, cfg_.port, &ss, &sl)) {
    throw std::runtime_error("bind address '" + cfg_.bindAddr + "' is not a numeric IP address");
  }
  listenFd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listenFd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0 || listen(listenFd_, 512) != 0) {
    std::string err = strerror(errno);
    close(listenFd_);
    listenFd_ = -1;
    throw std::runtime_error("cannot listen on " + cfg_.bindAddr + ":" + std::to_string(cfg_.port) +
                             ": " + err);
  }
  sockaddr_storage bound;
  socklen_t bl = sizeof(bound);
  getsockname(listenFd_, reinterpret_cast<sockaddr*>(&bound), &bl);
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  epollFd_ = epoll_create1(EPOLL_CLOEXEC);
  eventFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev);
  ev.data.u64 = kEventTag;
  epoll_ctl(epollFd_, EPOLL_CTL_ADD, eventFd_, &ev);
  if (!cfg_.unixName.empty()) {
    // Abstract namespace: nothing on the filesystem, gone with the process.
    sockaddr_un ua{};
    ua.sun_family = AF_UNIX;
    size_t n = std::min(cfg_.unixName.size(), sizeof(ua.sun_path) - 1);
    std::memcpy(ua.sun_path + 1, cfg_.unixName.data(), n);
    // The whole sun_path, NUL-padded, as libuv (Node's net) addresses abstract sockets.
    socklen_t ul = sizeof(ua);
    unixFd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (unixFd_ < 0 || bind(unixFd_, reinterpret_cast<sockaddr*>(&ua), ul) != 0 ||
        listen(unixFd_, 512) != 0) {
      // Same-host copies are then refused; everything else works over TCP.
      if (unixFd_ >= 0) close(unixFd_);
      unixFd_ = -1;
    } else {
      ev.data.u64 = kUnixListenTag;
      epoll_ctl(epollFd_, EPOLL_CTL_ADD, unixFd_, &ev);
    }
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Engine::RequestStop() {
  if (!started_ || stopRequested_) return;
  stopRequested_ = true;
  stop_ = true;
  uint64_t one = 1;
  ssize_t ignored = write(eventFd_, &one, sizeof(one));
  (void)ignored;
}

void Engine::RevokeAllRegions() {
  std::lock_guard<std::mutex> lock(regionMu_);
  regions_.clear();
}

void Engine::Join() {
  if (!started_) return;
  RequestStop();
  started_ = false;
  thread_.join();
  for (Conn* c : conns_) {
    if (c->fd >= 0) close(c->fd);
    delete c;
  }
  conns_.clear();
  for (Conn* c : graveyard_) delete c;
  graveyard_.clear();
  peers_.clear();
  close(listenFd_);
  if (unixFd_ >= 0) close(unixFd_);
  close(epollFd_);
  close(eventFd_);
}

// ---------------------------------------------------------------------------
// Region table.

uint32_t Engine::RegisterRegion(uint64_t addr, uint64_t len, uint64_t* key) {
  uint64_t k;
  FillRandom(&k, sizeof(k));
  std::lock_guard<std::mutex> lock(regionMu_);
  uint32_t id = nextRegionId_++;
  regions_[id] = Region{addr, len, k};
  *key = k;
  return id;
}

bool Engine::DeregisterRegion(uint32_t regionId) {
  std::lock_guard<std::mutex> lock(regionMu_);
  return regions_.erase(regionId) > 0;
}

int32_t Engine::CheckRegion(uint32_t rid, uint64_t key, uint64_t addr, uint64_t len) {
  auto it = regions_.find(rid);
  if (it == regions_.end()) return kErrNotFound;
  const Region& r = it->second;
  if (r.key != key) return kErrNotAllowed;
  if (addr < r.addr || len > r.len || addr - r.addr > r.len - len) return kErrInvalidParam;
  return kSuccess;
}

// ---------------------------------------------------------------------------
// Commands from JavaScript.

void Engine::PushCmd(Cmd&& c) {
  {
    std::lock_guard<std::mutex> lock(cmdMu_);
    cmds_->push_back(std::move(c));
  }
  cmdPending_.store(true);
  if (sleeping_.load()) {
    uint64_t one = 1;
    ssize_t ignored = write(eventFd_, &one, sizeof(one));
    (void)ignored;
  }
}

uint32_t Engine::AddPeer(const std::string& name, const std::string& host, int port,
                         const uint8_t secret[32], const uint8_t publicKey[32], bool sameHost,
                         const std::string& unixName) {
  auto p = std::make_unique<Peer>();
  p->id = nextPeerId_++;
  p->name = name;
  p->host = host;
  p->port = port;
  std::memcpy(p->secret, secret, 32);
  std::memcpy(p->publicKey, publicKey, 32);
  p->unixName = unixName;
  p->sameHost = sameHost && cfg_.sameHost;
  uint32_t id = p->id;
  Cmd c;
  c.kind = Cmd::kAddPeer;
  c.peer = std::move(p);
  PushCmd(std::move(c));
  return id;
}

void Engine::RemovePeer(uint32_t peerId) {
  Cmd c;
  c.kind = Cmd::kRemovePeer;
  c.a = peerId;
  PushCmd(std::move(c));
}

void Engine::Connect(uint32_t peerId, uint32_t token) {
  Cmd c;
  c.kind = Cmd::kConnect;
  c.a = peerId;
  c.b = token;
  PushCmd(std::move(c));
}

void Engine::Prep(uint32_t slot, XferOp op, uint32_t peerId, std::vector<XferDesc> descs) {
  auto x = std::make_unique<Xfer>();
  x->slot = slot;
  x->op = op;
  x->peerId = peerId;
  x->descs = std::move(descs);
  Cmd c;
  c.kind = Cmd::kPrep;
  c.a = slot;
  c.xfer = std::move(x);
  PushCmd(std::move(c));
}

void Engine::Post(uint32_t slot, uint32_t gen, const uint8_t* notif, size_t notifLen,
                  bool hasNotif) {
  Cmd c;
  c.kind = Cmd::kPost;
  c.a = slot;
  c.b = gen;
  c.flag = hasNotif;
  if (hasNotif) c.bytes.assign(notif, notif + notifLen);
  if (TryRunInline(c)) return;
  PushCmd(std::move(c));
}

// A small post runs on the calling thread when the I/O thread is idle (waiting
// in epoll, so not holding ioMu_) and no earlier command is queued: the frames
// go out now instead of after a wake-up of the I/O thread, which on a small
// machine costs about as much as the network round trip itself.
bool Engine::TryRunInline(Cmd& c) {
  if (!started_ || stop_.load(std::memory_order_relaxed)) return false;
  std::unique_lock<std::mutex> io(ioMu_, std::try_to_lock);
  if (!io.owns_lock()) return false;
  {
    std::lock_guard<std::mutex> lock(cmdMu_);
    if (!cmds_->empty()) return false;  // keep the order of commands
  }
  if (!InlineEligible(c)) return false;
  Peer* polled = cfg_.busyPollUs > 0 ? PeerOf(c.a) : nullptr;
  if (polled) SetQuiet(polled, true);  // before sending: the answer may come at once
  inlineRun_ = true;
  ExecCmd(c);
  inlineRun_ = false;
  FlushDirty();
  if (polled) {
    PollForCompletion(c.a, c.b);
    // With nothing else in flight to this peer its connections stay masked:
    // the next busy post would mask them again, and each change costs a
    // system call per stream. The I/O thread unmasks them once it needs them
    // (a queued post or notification, or CheckTimeouts after kQuietWatchNs).
    if (polled->state == Peer::kReady && polled->inflight == 0 && !HasUnsent(polled)) {
      polled->quietSinceNs = NowNs();
    } else {
      Unquiet(polled);
    }
  }
  // A post that completed here answers SUCCESS to its caller, which settles
  // it: no completion batch, so no wake-up of the JavaScript thread for it.
  auto& done = staged_.completions;
  if (!done.empty() && done.back().slot == c.a && done.back().gen == c.b &&
      done.back().status == kSuccess) {
    done.pop_back();
  }
  Publish();
  return true;
}

bool Engine::HasUnsent(const Peer* p) {
  for (const Conn* s : p->streams) {
    if (!s->txq.empty()) return true;
  }
  return false;
}

void Engine::Unquiet(Peer* p) {
  p->quietSinceNs = 0;
  SetQuiet(p, false);
}

Engine::Peer* Engine::PeerOf(uint32_t slot) {
  const Xfer* x = slot < capacity_ ? xfers_[slot].get() : nullptr;
  if (!x || x->peerId == 0) return nullptr;
  auto it = peers_.find(x->peerId);
  return it == peers_.end() ? nullptr : it->second.get();
}

void Engine::SetQuiet(Peer* p, bool quiet) {
  for (Conn* c : p->streams) {
    c->quiet = quiet;
    UpdateInterest(c);
  }
}

// busy_poll_us: the posting thread reads its peer's connections for up to that
// long, so a small transfer's answer is handled here, without waking the I/O
// thread and without a second thread between the answer and the status slot.
void Engine::PollForCompletion(uint32_t slot, uint32_t gen) {
  Xfer* x = xfers_[slot].get();
  Peer* p = PeerOf(slot);
  if (!x || !p) return;
  // A READ's payload arrives inside the window: lengthen it by the time the
  // socket takes to carry that much (as much as a busy WRITE may send inline).
  uint64_t windowUs = cfg_.busyPollUs;
  if (x->op == XferOp::kRead) {
    windowUs += std::min(TotalBytes(x), cfg_.busyPollUs * kInlineBytesPerUs) / kInlineBytesPerUs;
  }
  const uint64_t until = NowNs() + windowUs * 1000;
  while (x->active && x->gen == gen && p->state == Peer::kReady) {
    for (Conn* c : p->streams) {
      if (c->state != Conn::kReady) continue;
      if (!HandleReadable(c)) {
        CloseConn(c, "connection closed by the peer");
        return;  // the peer's streams changed under us
      }
      // The I/O thread cannot serve EPOLLOUT while this thread holds ioMu_:
      // keep sending what an inline WRITE left queued.
      if (!c->txq.empty() && !c->inDirty) {
        c->inDirty = true;
        dirty_.push_back(c);
      }
    }
    FlushDirty();
    if (!x->active || x->gen != gen || NowNs() > until) break;
  }
}

bool Engine::InlineEligible(const Cmd& c) {
  if (c.kind != Cmd::kPost || c.a >= capacity_) return false;
  const Xfer* x = xfers_[c.a].get();
  if (!x || x->active) return false;
  uint64_t bytes = TotalBytes(x);
  if (x->peerId == 0) return bytes <= kInlineMaxBytes;  // a local copy
  const Peer* p = PeerOf(c.a);
  if (!p || p->state != Peer::kReady) return false;
  // Same-host requests and socket READs send descriptors only; a socket WRITE
  // sends its payload, so only small ones, and only onto an idle connection.
  if (UsesCma(p, bytes) || x->op == XferOp::kRead) return x->descs.size() <= kInlineMaxDescs;
  // With busy_poll_us the caller has offered that long of its thread: it also
  // sends a WRITE whose payload the socket moves within the window.
  uint64_t maxBytes = std::max(kInlineMaxBytes, cfg_.busyPollUs * kInlineBytesPerUs);
  if (bytes > maxBytes) return false;
  for (const Conn* s : p->streams) {
    if (!s->txq.empty()) return false;
  }
  return true;
}

void Engine::Release(uint32_t slot) {
  Cmd c;
  c.kind = Cmd::kRelease;
  c.a = slot;
  PushCmd(std::move(c));
}

void Engine::GenNotif(uint32_t peerId, const uint8_t* msg, size_t len) {
  Cmd c;
  c.kind = Cmd::kGenNotif;
  c.a = peerId;
  c.bytes.assign(msg, msg + len);
  PushCmd(std::move(c));
}

void Engine::RunQueuedCommands() {
  if (!started_ || stop_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> io(ioMu_);
  DrainCommands();
  FlushDirty();
  Publish();
}

void Engine::DrainCommands() {
  {
    std::lock_guard<std::mutex> lock(cmdMu_);
    std::swap(cmds_, cmdsSpare_);
  }
  for (Cmd& c : *cmdsSpare_) ExecCmd(c);
  cmdsSpare_->clear();
}

void Engine::ExecCmd(Cmd& c) {
  switch (c.kind) {
    case Cmd::kAddPeer: {
      uint32_t id = c.peer->id;
      // Its metadata binds its name to its key from now on.
      Binding& b = bindings_[c.peer->name];
      std::memcpy(b.key, c.peer->publicKey, 32);
      b.fromMetadata = true;
      peers_[id] = std::move(c.peer);
      break;
    }
    case Cmd::kRemovePeer: {
      auto it = peers_.find(c.a);
      if (it == peers_.end()) break;
      Peer* p = it->second.get();
      auto bit = bindings_.find(p->name);
      if (bit != bindings_.end()) {
        bit->second.fromMetadata = false;
        if (bit->second.liveConns == 0) bindings_.erase(bit);
      }
      p->tokens.clear();
      FailPeer(p, kErrRemoteDisconnect, "peer '" + p->name + "' was disconnected");
      peers_.erase(it);
      break;
    }
    case Cmd::kConnect: {
      auto it = peers_.find(c.a);
      Peer* p = it == peers_.end() ? nullptr : it->second.get();
      if (!p || p->state == Peer::kFailed) {
        staged_.events.push_back({Outbox::Event::kConnectFailed, c.b, kErrRemoteDisconnect,
                                  "peer is not reachable (its connection failed)"});
        break;
      }
      if (p->state == Peer::kReady) {
        staged_.events.push_back({Outbox::Event::kConnected, c.b, 0, ""});
        break;
      }
      p->tokens.push_back(c.b);
      if (p->state == Peer::kIdle) StartPeerConnect(p);
      break;
    }
    case Cmd::kPrep:
      if (c.a < capacity_) xfers_[c.a] = std::move(c.xfer);
      break;
    case Cmd::kPost: {
      Xfer* x = c.a < capacity_ ? xfers_[c.a].get() : nullptr;
      if (!x || x->active) break;
      if (!inlineRun_) {
        // This thread will read the answers: watch the connections again.
        if (Peer* p = PeerOf(c.a); p && p->quietSinceNs != 0) Unquiet(p);
      }
      x->gen = c.b;
      x->active = true;
      x->pending = 0;
      x->status = 0;
      x->err.clear();
      x->hasNotif = c.flag;
      x->notifAfter = false;
      x->notif = std::move(c.bytes);
      StoreSlot(slots_, x->slot, kInProg);
      Submit(x);
      break;
    }
    case Cmd::kRelease: {
      if (c.a >= capacity_) break;
      Xfer* x = xfers_[c.a].get();
      if (x && x->active && x->peerId != 0) {
        auto it = peers_.find(x->peerId);
        if (it != peers_.end()) {
          Peer* p = it->second.get();
          if (p->inflight > 0) p->inflight--;
          if (x->waiting)
            p->waiting.erase(std::remove(p->waiting.begin(), p->waiting.end(), x),
                             p->waiting.end());
        }
      }
      xfers_[c.a].reset();
      // After this nothing of the released request writes the slot: it may
      // be handed to the next request (see kSlotFree).
      StoreSlot(slots_, c.a, kSlotFree);
      break;
    }
    case Cmd::kGenNotif: {
      if (c.a == 0) {
        staged_.notifs.push_back({cfg_.name, std::move(c.bytes)});
        break;
      }
      auto it = peers_.find(c.a);
      if (it == peers_.end()) break;
      Peer* p = it->second.get();
      if (p->quietSinceNs != 0) Unquiet(p);
      if (p->state == Peer::kReady) {
        SendNotif(p, c.bytes.data(), c.bytes.size(), 0);
      } else if (p->state != Peer::kFailed) {
        p->waitingNotifs.push_back(std::move(c.bytes));
        if (p->state == Peer::kIdle) StartPeerConnect(p);
      }
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// The I/O loop.

void Engine::Run() {
  epoll_event evs[64];
  // busy_poll_us: after serving a peer's request, poll instead of sleeping for
  // a while, since the next request usually follows. Only serving counts: an
  // initiator's own completions are polled for by the posting thread
  // (PollForCompletion), and a third spinning thread on a small machine costs
  // more than the sleep it saves.
  uint64_t lastServed = 0;
  const uint64_t spinNs = cfg_.busyPollUs * 1000;
  while (!stop_.load(std::memory_order_relaxed)) {
    uint64_t now = NowNs();
    bool spin = spinNs > 0 && now - lastServed < spinNs;
    int timeout = 0;
    if (!spin) {
      sleeping_.store(true);
      timeout = cmdPending_.load() ? 0 : 20;
    }
    int n = epoll_wait(epollFd_, evs, 64, timeout);
    bool served = false;
    // Everything below owns the engine's state; a post from JavaScript that
    // finds this lock free runs inline (TryRunInline).
    std::lock_guard<std::mutex> io(ioMu_);
    sleeping_.store(false, std::memory_order_relaxed);
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == kEventTag) {
        uint64_t v;
        ssize_t ignored = read(eventFd_, &v, sizeof(v));
        (void)ignored;
        continue;
      }
      if (tag == kListenTag || tag == kUnixListenTag) {
        AcceptAll(tag == kListenTag ? listenFd_ : unixFd_, tag == kUnixListenTag);
        continue;
      }
      Conn* c = reinterpret_cast<Conn*>(evs[i].data.ptr);
      if (c->state == Conn::kClosed) continue;
      uint32_t e = evs[i].events;
      if (c->state == Conn::kConnecting) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) OnConnectWritable(c);
        continue;
      }
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (!c->outgoing) served = true;
        if (!HandleReadable(c)) {
          CloseConn(c, "connection closed by the peer");
          continue;
        }
      }
      if ((e & EPOLLOUT) && c->state != Conn::kClosed && !c->inDirty) {
        c->inDirty = true;
        dirty_.push_back(c);
      }
    }
    if (cmdPending_.exchange(false)) DrainCommands();
    FlushDirty();
    now = NowNs();
    if (now - lastTimerNs_ > 20'000'000) {
      lastTimerNs_ = now;
      CheckTimeouts();
    }
    Publish();
    for (Conn* c : graveyard_) delete c;
    graveyard_.clear();
    if (served) lastServed = NowNs();
  }
  if (onExit_) onExit_();
}

void Engine::FlushDirty() {
  for (size_t i = 0; i < dirty_.size(); i++) {
    Conn* c = dirty_[i];
    c->inDirty = false;
    if (c->state == Conn::kClosed || c->state == Conn::kConnecting) continue;
    if (!Flush(c)) {
      CloseConn(c, "send failed: connection broken");
      continue;
    }
    UpdateInterest(c);
    // Frames already buffered while backpressure held this connection back
    // get no new EPOLLIN: resume them here once the replies drained.
    if (!c->outgoing && c->rend > c->rpos && c->txq.size() <= kMaxQueuedReplies &&
        !HandleReadable(c)) {
      CloseConn(c, "connection closed by the peer");
    }
  }
  dirty_.clear();
}

void Engine::Publish() {
  if (staged_.Empty()) return;
  bool doWake = false;
  {
    std::lock_guard<std::mutex> lock(outMu_);
    auto append = [](auto& dst, auto& src) {
      if (dst.empty()) {
        std::swap(dst, src);
      } else {
        for (auto& v : src) dst.push_back(std::move(v));
      }
      src.clear();
    };
    append(outbox_.completions, staged_.completions);
    append(outbox_.notifs, staged_.notifs);
    append(outbox_.events, staged_.events);
    if (!wakePending_) {
      wakePending_ = true;
      doWake = true;
    }
  }
  if (doWake) wake_();
}

void Engine::TakeOutbox(Outbox* out) {
  out->completions.clear();
  out->notifs.clear();
  out->events.clear();
  std::lock_guard<std::mutex> lock(outMu_);
  std::swap(*out, outbox_);
  wakePending_ = false;
}

// ---------------------------------------------------------------------------
// Connections.

void Engine::UpdateInterest(Conn* c) {
  if (c->state == Conn::kClosed) return;
  uint32_t want = c->state == Conn::kConnecting                         ? EPOLLOUT
                  : c->txq.empty()                                      ? EPOLLIN
                  : (!c->outgoing && c->txq.size() > kMaxQueuedReplies) ? EPOLLOUT
                                                                        : (EPOLLIN | EPOLLOUT);
  // A quiet connection is read and written by a polling caller, which holds
  // ioMu_: waking the I/O thread for it would only park a third thread on it.
  if (c->quiet) want &= ~uint32_t(EPOLLIN | EPOLLOUT);
  if (c->registered && want == c->interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = c;
  epoll_ctl(epollFd_, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
  c->registered = true;
  c->interest = want;
}

void Engine::AcceptAll(int listenFd, bool viaUnix) {
  for (;;) {
    int fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors or memory: retrying at once would spin a core for
      // as long as that lasts, so accepting pauses instead.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        PauseAccepting();
      }
      return;
    }
    if (authIncoming_ + unauthIncoming_ >= kMaxIncoming) {
      close(fd);
      continue;
    }
    if (unauthIncoming_ >= kMaxUnauthenticated) {
      // Make room: the oldest connection that has not authenticated goes.
      Conn* oldest = nullptr;
      for (Conn* o : conns_) {
        if (!o->outgoing && o->state == Conn::kWaitHello &&
            (oldest == nullptr || o->createdNs < oldest->createdNs)) {
          oldest = o;
        }
      }
      if (oldest != nullptr) CloseConn(oldest, "unauthenticated connections over the cap");
    }
    Conn* c = new Conn();
    c->fd = fd;
    c->outgoing = false;
    c->viaUnix = viaUnix;
    if (viaUnix) {
      ucred cred{};
      socklen_t cl = sizeof(cred);
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
        c->remotePid = static_cast<uint32_t>(cred.pid);
        c->remoteUid = static_cast<uint32_t>(cred.uid);
      }
    } else {
      SetSocketOptions(fd);
    }
    c->state = Conn::kWaitHello;
    c->createdNs = NowNs();
    c->rbuf.resize(kPreAuthRecvBuf);
    FillRandom(c->nonce, sizeof(c->nonce));
    conns_.push_back(c);
    unauthIncoming_++;
    FrameHeader h = MakeHeader(kChallenge, 0, 0, kNonceSize);
    QueueOwned(c, h, std::vector<uint8_t>(c->nonce, c->nonce + kNonceSize));
    UpdateInterest(c);
  }
}

void Engine::PauseAccepting() {
  acceptPausedUntilNs_ = NowNs() + kAcceptPauseNs;
  for (int fd : {listenFd_, unixFd_}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = 0;
    ev.data.u64 = fd == listenFd_ ? kListenTag : kUnixListenTag;
    epoll_ctl(epollFd_, EPOLL_CTL_MOD, fd, &ev);
  }
}

void Engine::ResumeAccepting() {
  acceptPausedUntilNs_ = 0;
  for (int fd : {listenFd_, unixFd_}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = fd == listenFd_ ? kListenTag : kUnixListenTag;
    epoll_ctl(epollFd_, EPOLL_CTL_MOD, fd, &ev);
  }
}

void Engine::StartPeerConnect(Peer* p) {
  p->state = Peer::kConnecting;
  p->connectStartNs = NowNs();
  p->authed = 0;
  p->cma = false;
  sockaddr_storage ss;
  socklen_t sl;
  if (!ParseAddr(p->host, p->port, &ss, &sl)) {
    FailPeer(p, kErrRemoteDisconnect, "peer address '" + p->host + "' is not a numeric IP");
    return;
  }
  int n = std::max(1, cfg_.streams);
  for (int i = 0; i < n; i++) {
    // A peer on this host is reached through its Unix socket when that is
    // reachable (same network namespace); the kernel then vouches for our pid
    // to it, which same-host copies need. Else TCP, without same-host copies.
    int fd = -1;
    bool viaUnix = false;
    if (p->sameHost && !p->unixName.empty()) {
      sockaddr_un ua{};
      ua.sun_family = AF_UNIX;
      size_t nl = std::min(p->unixName.size(), sizeof(ua.sun_path) - 1);
      std::memcpy(ua.sun_path + 1, p->unixName.data(), nl);
      socklen_t ul = sizeof(ua);  // NUL-padded, as at bind
      fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&ua), ul) != 0 &&
          errno != EINPROGRESS && errno != EAGAIN) {
        close(fd);
        fd = -1;
      }
      viaUnix = fd >= 0;
    }
    if (fd < 0) fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      FailPeer(p, kErrRemoteDisconnect, std::string("socket: ") + strerror(errno));
      return;
    }
    if (!viaUnix) SetSocketOptions(fd);
    Conn* c = new Conn();
    c->fd = fd;
    c->outgoing = true;
    c->viaUnix = viaUnix;
    c->peer = p;
    c->streamIndex = static_cast<uint32_t>(i);
    c->createdNs = NowNs();
    c->rbuf.resize(kRecvBuf);
    conns_.push_back(c);
    p->streams.push_back(c);
    int r = viaUnix ? 0 : connect(fd, reinterpret_cast<sockaddr*>(&ss), sl);
    if (r != 0 && errno != EINPROGRESS) {
      FailPeer(
          p, kErrRemoteDisconnect,
          "connect to " + p->host + ":" + std::to_string(p->port) + " failed: " + strerror(errno));
      return;
    }
    c->state = Conn::kConnecting;
    UpdateInterest(c);
  }
}

void Engine::OnConnectWritable(Conn* c) {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    Peer* p = c->peer;
    FailPeer(p, kErrRemoteDisconnect,
             "connect to " + p->host + ":" + std::to_string(p->port) + " failed: " + strerror(err));
    return;
  }
  c->state = Conn::kWaitChallenge;
  UpdateInterest(c);
}

void Engine::CloseConn(Conn* c, const char* why) {
  if (c->state == Conn::kClosed) return;
  if (debug_) {
    fprintf(stderr, "nixl-tcp[%s]: closing %s connection (state %d, op %d): %s\n",
            cfg_.name.c_str(), c->outgoing ? "outgoing" : "incoming", int(c->state), int(c->cur.op),
            why);
  }
  if (c->outgoing && c->peer && c->peer->state != Peer::kFailed) {
    // A broken stream fails the whole peer: its transfers are striped.
    FailPeer(c->peer, kErrRemoteDisconnect,
             std::string("connection to peer '") + c->peer->name + "' lost: " + why);
    return;
  }
  if (!c->outgoing) {
    if (c->state == Conn::kWaitHello) unauthIncoming_--;
    if (c->state == Conn::kReady) authIncoming_--;
    if (c->bound) UnbindName(c->remoteName);
    c->bound = false;
  }
  c->state = Conn::kClosed;
  epoll_ctl(epollFd_, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  c->fd = -1;
  c->peer = nullptr;
  conns_.erase(std::remove(conns_.begin(), conns_.end(), c), conns_.end());
  graveyard_.push_back(c);
}

void Engine::FailPeer(Peer* p, int32_t status, const std::string& why) {
  bool wasFailed = p->state == Peer::kFailed;
  p->state = Peer::kFailed;
  for (Conn* c : p->streams) {
    c->peer = nullptr;
    CloseConn(c, why.c_str());
  }
  p->streams.clear();
  p->waiting.clear();
  p->waitingNotifs.clear();
  for (auto& x : xfers_) {
    if (x && x->active && x->peerId == p->id) {
      x->waiting = false;
      Settle(x.get(), status, why);
    }
  }
  p->inflight = 0;
  for (uint32_t t : p->tokens) {
    staged_.events.push_back({Outbox::Event::kConnectFailed, t, status, why});
  }
  p->tokens.clear();
  if (!wasFailed) staged_.events.push_back({Outbox::Event::kDisconnected, p->id, status, why});
}

void Engine::CheckTimeouts() {
  uint64_t now = NowNs();
  if (acceptPausedUntilNs_ != 0 && now >= acceptPausedUntilNs_) ResumeAccepting();
  for (auto& [id, pp] : peers_) {
    Peer* p = pp.get();
    // Connections left masked by a busy-poll post are watched again once
    // the posts pause, so a peer that closes them is noticed.
    if (p->quietSinceNs != 0 && now - p->quietSinceNs > kQuietWatchNs) Unquiet(p);
    if (p->state == Peer::kConnecting &&
        now - p->connectStartNs > cfg_.connectTimeoutMs * 1000000ull) {
      FailPeer(p, kErrRemoteDisconnect,
               "connecting to peer '" + p->name + "' timed out after " +
                   std::to_string(cfg_.connectTimeoutMs) + " ms");
    } else if (p->state == Peer::kReady && p->inflight > 0 &&
               now - p->lastProgressNs > cfg_.timeoutMs * 1000000ull) {
      FailPeer(p, kErrRemoteDisconnect,
               "peer '" + p->name + "' made no progress for " + std::to_string(cfg_.timeoutMs) +
                   " ms (timed out)");
    }
  }
  // Incoming connections that never authenticate are dropped.
  std::vector<Conn*> stale;
  for (Conn* c : conns_) {
    if (!c->outgoing && c->state == Conn::kWaitHello &&
        now - c->createdNs > cfg_.connectTimeoutMs * 1000000ull) {
      stale.push_back(c);
    }
  }
  for (Conn* c : stale) CloseConn(c, "handshake timed out");
}

// ---------------------------------------------------------------------------
// Sending.

void Engine::Queue(Conn* c, const FrameHeader& h, const uint8_t* payload, uint64_t len) {
  c->txq.emplace_back();
  TxItem& t = c->txq.back();
  t.hdr = h;
  t.payload = payload;
  t.len = len;
  if (!c->inDirty) {
    c->inDirty = true;
    dirty_.push_back(c);
  }
}

// The header's len is set from the payload here (callers may have moved it away).
void Engine::QueueOwned(Conn* c, const FrameHeader& h, std::vector<uint8_t> payload) {
  Queue(c, h, nullptr, payload.size());
  TxItem& t = c->txq.back();
  t.hdr.len = payload.size();
  t.owned = std::move(payload);
  t.payload = t.owned.data();
}

void Engine::QueueRegionData(Conn* c, const FrameHeader& h, uint32_t rid, uint64_t key,
                             const uint8_t* src) {
  Queue(c, h, src, h.len);
  TxItem& t = c->txq.back();
  t.srcRegion = rid;
  t.srcKey = key;
  t.trailer = true;
  t.trailerStatus = kSuccess;
}

bool Engine::Flush(Conn* c) {
  while (!c->txq.empty()) {
    iovec iov[kMaxIov];
    int n = 0;
    bool needLock = false;
    for (auto& t : c->txq) {
      if (t.srcRegion != 0 && t.sent < kHeaderSize + t.len) needLock = true;
      if (++n >= kMaxIov / 3) break;
    }
    std::unique_lock<std::mutex> lock(regionMu_, std::defer_lock);
    if (needLock) {
      lock.lock();
      int k = 0;
      for (auto& t : c->txq) {
        if (t.srcRegion != 0 && t.payload != nullptr) {
          auto it = regions_.find(t.srcRegion);
          if (it == regions_.end() || it->second.key != t.srcKey) {
            // Revoked while queued or half sent: finish the frame with zeros
            // and report the failure in its trailer.
            t.payload = nullptr;
            t.trailerStatus = kErrNotFound;
          }
        }
        if (++k >= kMaxIov / 3) break;
      }
    }
    n = 0;
    for (auto& t : c->txq) {
      uint64_t off = t.sent;
      if (off < kHeaderSize) {
        iov[n++] = {reinterpret_cast<uint8_t*>(&t.hdr) + off, kHeaderSize - off};
        off = kHeaderSize;
      }
      uint64_t pend = kHeaderSize + t.len;
      if (off < pend) {
        uint64_t rem = pend - off;
        if (t.payload) {
          iov[n++] = {const_cast<uint8_t*>(t.payload) + (off - kHeaderSize), rem};
        } else {
          iov[n++] = {const_cast<uint8_t*>(kZeroPayload),
                      std::min<uint64_t>(rem, sizeof(kZeroPayload))};
          break;  // the rest of this item goes in the next round
        }
        off = pend;
      }
      if (t.trailer) {
        uint64_t toff = off - pend;
        iov[n++] = {reinterpret_cast<uint8_t*>(&t.trailerStatus) + toff, 4 - toff};
      }
      if (n >= kMaxIov - 3) break;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (lock.owns_lock()) lock.unlock();
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return false;
    }
    if (c->peer) c->peer->lastProgressNs = NowNs();
    uint64_t left = static_cast<uint64_t>(sent);
    while (left > 0 && !c->txq.empty()) {
      TxItem& t = c->txq.front();
      uint64_t rem = t.Total() - t.sent;
      if (left >= rem) {
        left -= rem;
        c->txq.pop_front();
      } else {
        t.sent += left;
        left = 0;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Receiving.

// Reads and handles frames. Once a frame that needs an answer is complete and
// nothing more is buffered, it returns instead of trying another recv: the
// caller flushes the answer now, rather than after a recv that would most
// likely say EAGAIN (a system call costs over 1 µs on a VM). The socket is
// level-triggered, so whatever arrives meanwhile is read on the next round.
bool Engine::HandleReadable(Conn* c) {
  uint64_t budget = kReadBudget;
  while (c->state != Conn::kClosed) {
    if (!c->outgoing && c->txq.size() > kMaxQueuedReplies && !c->inPayload) {
      UpdateInterest(c);  // resumes once Flush drains the replies
      return true;
    }
    if (!c->inPayload) {
      size_t avail = c->rend - c->rpos;
      if (avail >= kHeaderSize) {
        std::memcpy(&c->cur, c->rbuf.data() + c->rpos, kHeaderSize);
        c->rpos += kHeaderSize;
        if (!OnHeader(c)) return false;
        if (!c->inPayload && c->rpos == c->rend && !c->txq.empty()) return true;  // answer now
        continue;
      }
      if (budget == 0) return true;
      if (c->rpos > 0) {
        std::memmove(c->rbuf.data(), c->rbuf.data() + c->rpos, avail);
        c->rpos = 0;
        c->rend = avail;
      }
    } else {
      size_t avail = c->rend - c->rpos;
      if (avail > 0) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(avail, c->remaining));
        if (!ConsumePayload(c, c->rbuf.data() + c->rpos, take)) return false;
        c->rpos += take;
        c->remaining -= take;
        if (c->remaining == 0) {
          if (!OnPayloadDone(c)) return false;
          if (c->rpos == c->rend && !c->txq.empty()) return true;  // answer now
        }
        continue;
      }
      if (budget == 0) return true;
      c->rpos = c->rend = 0;
      if ((c->sink == Conn::kRegionSink || c->sink == Conn::kMemSink) &&
          c->remaining >= kDirectRecvMin) {
        int64_t before = static_cast<int64_t>(c->remaining);
        if (!RecvDirect(c)) return false;
        int64_t got = before - static_cast<int64_t>(c->remaining);
        if (got == 0 && c->sink != Conn::kDiscard) return true;  // would block
        budget = budget > uint64_t(got) ? budget - uint64_t(got) : 0;
        if (c->remaining == 0) {
          if (!OnPayloadDone(c)) return false;
          if (!c->txq.empty()) return true;  // answer now
        }
        continue;
      }
    }
    ssize_t n = recv(c->fd, c->rbuf.data() + c->rend, c->rbuf.size() - c->rend, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return false;
    }
    c->rend += static_cast<size_t>(n);
    budget = budget > uint64_t(n) ? budget - uint64_t(n) : 0;
    if (c->peer) c->peer->lastProgressNs = NowNs();
  }
  return true;
}

// Receives payload straight into its destination. Returns false on a closed or
// broken socket; leaves `remaining` unchanged when it would block.
bool Engine::RecvDirect(Conn* c) {
  std::unique_lock<std::mutex> lock(regionMu_, std::defer_lock);
  if (c->sink == Conn::kRegionSink) {
    lock.lock();
    auto it = regions_.find(c->cur.regionId);
    if (it == regions_.end() || it->second.key != c->cur.key) {
      c->sink = Conn::kDiscard;
      c->payStatus = kErrNotFound;
      return true;
    }
  } else if (!FindXfer(c->cur.xferId)) {
    c->sink = Conn::kDiscard;
    return true;
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(c->remaining, kMaxRecvCall));
  ssize_t n = recv(c->fd, c->dst, want, 0);
  if (lock.owns_lock()) lock.unlock();
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  c->dst += n;
  c->remaining -= static_cast<uint64_t>(n);
  if (c->peer) c->peer->lastProgressNs = NowNs();
  return true;
}

bool Engine::ConsumePayload(Conn* c, const uint8_t* src, size_t n) {
  switch (c->sink) {
    case Conn::kRegionSink: {
      std::lock_guard<std::mutex> lock(regionMu_);
      auto it = regions_.find(c->cur.regionId);
      if (it == regions_.end() || it->second.key != c->cur.key) {
        c->sink = Conn::kDiscard;
        c->payStatus = kErrNotFound;
        return true;
      }
      std::memcpy(c->dst, src, n);
      c->dst += n;
      return true;
    }
    case Conn::kMemSink:
      if (!FindXfer(c->cur.xferId)) {
        c->sink = Conn::kDiscard;
        return true;
      }
      std::memcpy(c->dst, src, n);
      c->dst += n;
      return true;
    case Conn::kDiscard:
      return true;
    case Conn::kBuf:
      c->pbuf.insert(c->pbuf.end(), src, src + n);
      return true;
    case Conn::kTrailer:
      std::memcpy(c->trailer + c->trailerGot, src, n);
      c->trailerGot += n;
      return true;
  }
  return true;
}

bool Engine::OnHeader(Conn* c) {
  const FrameHeader& h = c->cur;
  if (h.magic != kMagic) return false;
  auto begin = [c](Conn::Sink sink, uint64_t len) {
    c->sink = sink;
    c->remaining = len;
    c->inPayload = true;
    c->pbuf.clear();
  };
  if (!c->outgoing) {
    // Target side.
    if (c->state == Conn::kWaitHello) {
      if (h.op != kHello || h.len < sizeof(HelloFixed) || h.len > kMaxHello) return false;
      begin(Conn::kBuf, h.len);
      return true;
    }
    if (c->state != Conn::kReady) return false;
    switch (h.op) {
      case kWrite: {
        if (h.len > kMaxDataFrame) return false;
        {
          std::lock_guard<std::mutex> lock(regionMu_);
          c->payStatus = CheckRegion(h.regionId, h.key, h.addr, h.len);
        }
        begin(c->payStatus == kSuccess ? Conn::kRegionSink : Conn::kDiscard, h.len);
        c->dst = reinterpret_cast<uint8_t*>(h.addr);
        break;
      }
      case kRead: {
        if (h.len > kMaxDataFrame) return false;
        int32_t st;
        {
          std::lock_guard<std::mutex> lock(regionMu_);
          st = CheckRegion(h.regionId, h.key, h.addr, h.len);
        }
        if (st == kSuccess) {
          FrameHeader r = MakeHeader(kReadData, 0, h.xferId, h.len);
          QueueRegionData(c, r, h.regionId, h.key, reinterpret_cast<const uint8_t*>(h.addr));
        } else {
          c->refusedXfer = h.xferId;
          FrameHeader r = MakeHeader(kReadData, 0, h.xferId, 0);
          r.status = st;
          Queue(c, r, nullptr, 0);
          c->txq.back().trailer = true;
          c->txq.back().trailerStatus = st;
        }
        return true;
      }
      case kNotif:
        if (h.len > kMaxNotif) return false;
        begin(Conn::kBuf, h.len);
        break;
      case kCmaWrite:
      case kCmaRead:
        if (!c->cma || h.len % sizeof(CmaEntry) != 0 || h.len / sizeof(CmaEntry) > kMaxCmaEntries) {
          return false;
        }
        begin(Conn::kBuf, h.len);
        break;
      default:
        return false;
    }
  } else {
    // Initiator side.
    if (c->state == Conn::kWaitChallenge) {
      if (h.op != kChallenge || h.len != kNonceSize) return false;
      begin(Conn::kBuf, h.len);
    } else if (c->state == Conn::kWaitHelloOk) {
      if (h.op != kHelloOk || h.len != sizeof(HelloOk)) return false;
      begin(Conn::kBuf, h.len);
    } else if (c->state == Conn::kReady) {
      switch (h.op) {
        case kAck:
        case kErr:
          if (h.len != 0) return false;
          begin(Conn::kBuf, 0);
          break;
        case kReadData: {
          if (c->reads.empty()) return false;
          const auto& front = c->reads.front();
          if (front.xferId != h.xferId) return false;
          if (h.status == kSuccess ? h.len != front.len : h.len != 0) return false;
          bool live = FindXfer(h.xferId) != nullptr;
          begin(live ? Conn::kMemSink : Conn::kDiscard, h.len);
          c->dst = reinterpret_cast<uint8_t*>(front.laddr);
          c->trailerGot = 0;
          break;
        }
        default:
          return false;
      }
    } else {
      return false;
    }
  }
  if (c->remaining == 0) return OnPayloadDone(c);
  return true;
}

bool Engine::OnPayloadDone(Conn* c) {
  const FrameHeader& h = c->cur;
  c->inPayload = false;
  if (!c->outgoing) {
    switch (h.op) {
      case kHello:
        return OnHello(c);
      case kWrite:
        if (c->payStatus != kSuccess) c->refusedXfer = h.xferId;
        if (h.flags & kFlagAckReq) {
          FrameHeader r = MakeHeader(kAck, 0, h.xferId, 0);
          r.status = c->payStatus;
          Queue(c, r, nullptr, 0);
        } else if (c->payStatus != kSuccess) {
          FrameHeader r = MakeHeader(kErr, 0, h.xferId, 0);
          r.status = c->payStatus;
          Queue(c, r, nullptr, 0);
        }
        return true;
      case kNotif:
        // A notification bound to a transfer this connection refused part of
        // is dropped: its data is not (all) in memory.
        if (h.xferId == 0 || h.xferId != c->refusedXfer) {
          staged_.notifs.push_back({c->remoteName, std::move(c->pbuf)});
        }
        c->pbuf.clear();
        return true;
      case kCmaWrite:
      case kCmaRead:
        ServeCma(c, h.op == kCmaWrite);
        return true;
      default:
        return false;
    }
  }
  // Initiator side.
  switch (h.op) {
    case kChallenge:
      if (!c->peer) return false;
      std::memcpy(c->nonce, c->pbuf.data(), kNonceSize);
      SendHello(c);
      return true;
    case kHelloOk:
      return OnHelloOk(c);
    case kAck: {
      Xfer* x = FindXfer(h.xferId);
      if (x) {
        ApplyStatus(x, h.status, "the target refused a request");
        ReplyDone(x);
      }
      return true;
    }
    case kErr: {
      Xfer* x = FindXfer(h.xferId);
      if (x) ApplyStatus(x, h.status, "the target refused a request");
      return true;
    }
    case kReadData:
      if (c->sink != Conn::kTrailer) {
        c->sink = Conn::kTrailer;
        c->remaining = 4;
        c->trailerGot = 0;
        c->inPayload = true;
        return true;
      } else {
        int32_t st;
        std::memcpy(&st, c->trailer, 4);
        c->reads.pop_front();
        Xfer* x = FindXfer(h.xferId);
        if (x) {
          ApplyStatus(x, h.status != kSuccess ? h.status : st, "the target refused a READ");
          ReplyDone(x);
        }
        c->sink = Conn::kDiscard;
        return true;
      }
    default:
      return false;
  }
}

// Target side: the HELLO proves the secret (MAC) and the identity key
// (signature over both nonces, so it cannot be replayed); the name must be
// free or bound to that key. Same-host copies only where the kernel vouches
// for the peer's process: a Unix socket's SO_PEERCRED, another process, same
// user (or we are root).
bool Engine::OnHello(Conn* c) {
  HelloFixed f;
  if (c->pbuf.size() < sizeof(f)) return false;
  std::memcpy(&f, c->pbuf.data(), sizeof(f));
  if (f.nameLen > 1024 || c->pbuf.size() != sizeof(f) + f.nameLen) return false;
  std::string name(reinterpret_cast<const char*>(c->pbuf.data() + sizeof(f)), f.nameLen);
  uint8_t mac[32];
  Transcript("nixl-tcp-v2 hello")
      .Add(c->nonce, 32)
      .Add(f.nonce, 32)
      .Add(f.publicKey, 32)
      .Add(name)
      .Mac(secret_, mac);
  if (!crypto::ConstantTimeEqual(mac, f.mac, 32)) return false;
  Transcript signed_("nixl-tcp-v2 hello-sig");
  signed_.Add(c->nonce, 32).Add(f.nonce, 32).Add(publicKey_, 32).Add(name);
  if (!crypto::Ed25519Verify(f.publicKey, signed_.bytes.data(), signed_.bytes.size(),
                             f.signature)) {
    return false;
  }
  if (!BindName(name, f.publicKey)) return false;  // another agent's name
  c->bound = true;
  c->remoteName = std::move(name);
  std::memcpy(c->remoteKey, f.publicKey, 32);
  Authenticated(c);
  uint8_t flags = 0;
  if ((c->cur.flags & kFlagCma) && cfg_.sameHost && c->viaUnix && c->remotePid != 0 &&
      c->remotePid != static_cast<uint32_t>(getpid()) &&
      (c->remoteUid == geteuid() || geteuid() == 0)) {
    c->cma = true;
    flags = kFlagCma;
  }
  HelloOk ok;
  Transcript("nixl-tcp-v2 ok")
      .Add(f.nonce, 32)
      .Add(c->nonce, 32)
      .Add(&flags, 1)
      .Mac(secret_, ok.mac);
  Transcript proof("nixl-tcp-v2 ok-sig");
  proof.Add(f.nonce, 32).Add(c->nonce, 32).Add(f.publicKey, 32).Add(&flags, 1);
  if (!crypto::Ed25519Sign(cfg_.identitySeed, proof.bytes.data(), proof.bytes.size(),
                           ok.signature)) {
    return false;
  }
  QueueOwned(c, MakeHeader(kHelloOk, flags, 0, sizeof(ok)),
             std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&ok),
                                  reinterpret_cast<uint8_t*>(&ok) + sizeof(ok)));
  return true;
}

void Engine::Authenticated(Conn* c) {
  unauthIncoming_--;
  authIncoming_++;
  c->state = Conn::kReady;
  // Keep what was read past the HELLO (nothing should be) in the full buffer.
  c->rbuf.resize(kRecvBuf);
}

// Initiator side, on the target's CHALLENGE.
void Engine::SendHello(Conn* c) {
  Peer* p = c->peer;
  FillRandom(c->myNonce, sizeof(c->myNonce));
  HelloFixed f{};
  std::memcpy(f.nonce, c->myNonce, 32);
  std::memcpy(f.publicKey, publicKey_, 32);
  Transcript("nixl-tcp-v2 hello")
      .Add(c->nonce, 32)
      .Add(f.nonce, 32)
      .Add(f.publicKey, 32)
      .Add(cfg_.name)
      .Mac(p->secret, f.mac);
  Transcript signed_("nixl-tcp-v2 hello-sig");
  signed_.Add(c->nonce, 32).Add(f.nonce, 32).Add(p->publicKey, 32).Add(cfg_.name);
  crypto::Ed25519Sign(cfg_.identitySeed, signed_.bytes.data(), signed_.bytes.size(), f.signature);
  f.streamIndex = c->streamIndex;
  f.nameLen = static_cast<uint32_t>(cfg_.name.size());
  std::vector<uint8_t> hello(sizeof(HelloFixed) + cfg_.name.size());
  std::memcpy(hello.data(), &f, sizeof(f));
  std::memcpy(hello.data() + sizeof(f), cfg_.name.data(), cfg_.name.size());
  uint8_t flags = (p->sameHost && c->viaUnix && c->streamIndex == 0) ? kFlagCma : 0;
  QueueOwned(c, MakeHeader(kHello, flags, 0, hello.size()), std::move(hello));
  c->state = Conn::kWaitHelloOk;
}

// Initiator side: the target proves it holds its secret and its identity key
// before a byte of payload goes to it.
bool Engine::OnHelloOk(Conn* c) {
  Peer* p = c->peer;
  if (!p || c->pbuf.size() != sizeof(HelloOk)) return false;
  HelloOk ok;
  std::memcpy(&ok, c->pbuf.data(), sizeof(ok));
  uint8_t flags = c->cur.flags & kFlagCma;
  uint8_t mac[32];
  Transcript("nixl-tcp-v2 ok")
      .Add(c->myNonce, 32)
      .Add(c->nonce, 32)
      .Add(&flags, 1)
      .Mac(p->secret, mac);
  Transcript proof("nixl-tcp-v2 ok-sig");
  proof.Add(c->myNonce, 32).Add(c->nonce, 32).Add(publicKey_, 32).Add(&flags, 1);
  if (!crypto::ConstantTimeEqual(mac, ok.mac, 32) ||
      !crypto::Ed25519Verify(p->publicKey, proof.bytes.data(), proof.bytes.size(), ok.signature)) {
    FailPeer(p, kErrRemoteDisconnect,
             "the agent at " + p->host + ":" + std::to_string(p->port) + " did not prove it is '" +
                 p->name + "' (its secret or identity key differs from the loaded metadata)");
    return false;
  }
  c->state = Conn::kReady;
  if (c->streamIndex == 0) p->cma = flags != 0;
  if (++p->authed == p->streams.size()) OnPeerReady(p);
  return true;
}

bool Engine::BindName(const std::string& name, const uint8_t key[32]) {
  auto it = bindings_.find(name);
  if (it == bindings_.end()) {
    Binding b;
    std::memcpy(b.key, key, 32);
    b.liveConns = 1;
    bindings_.emplace(name, b);
    return true;
  }
  Binding& b = it->second;
  if (!crypto::ConstantTimeEqual(b.key, key, 32)) {
    if (b.fromMetadata || b.liveConns > 0) return false;
    std::memcpy(b.key, key, 32);
  }
  b.liveConns++;
  return true;
}

void Engine::UnbindName(const std::string& name) {
  auto it = bindings_.find(name);
  if (it == bindings_.end()) return;
  if (it->second.liveConns > 0) it->second.liveConns--;
  if (it->second.liveConns == 0 && !it->second.fromMetadata) bindings_.erase(it);
}

void Engine::ServeCma(Conn* c, bool write) {
  size_t n = c->pbuf.size() / sizeof(CmaEntry);
  const CmaEntry* e = reinterpret_cast<const CmaEntry*>(c->pbuf.data());
  int32_t st = kSuccess;
  std::string why;
  iovec local[kMaxCmaEntries];
  iovec remote[kMaxCmaEntries];
  {
    std::lock_guard<std::mutex> lock(regionMu_);
    uint64_t total = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      CmaEntry d;
      std::memcpy(&d, e + i, sizeof(d));
      int32_t s = CheckRegion(d.regionId, d.key, d.targetAddr, d.len);
      if (s != kSuccess) {
        st = s;
        break;
      }
      if (d.len == 0) continue;
      local[k] = {reinterpret_cast<void*>(d.targetAddr), d.len};
      remote[k] = {reinterpret_cast<void*>(d.initiatorAddr), d.len};
      total += d.len;
      k++;
    }
    // Everything validated before the first byte moves.
    if (st == kSuccess && total > 0 &&
        !copyPool_->Copy(static_cast<pid_t>(c->remotePid), write, local, remote, k, total)) {
      st = kErrBackend;
    }
  }
  if (st != kSuccess) c->refusedXfer = c->cur.xferId;
  FrameHeader r = MakeHeader(kAck, 0, c->cur.xferId, 0);
  r.status = st;
  Queue(c, r, nullptr, 0);
}

// ---------------------------------------------------------------------------
// Initiator side.

Engine::Xfer* Engine::FindXfer(uint64_t xferId) {
  uint32_t slot = static_cast<uint32_t>(xferId >> 32);
  uint32_t gen = static_cast<uint32_t>(xferId);
  if (slot >= capacity_) return nullptr;
  Xfer* x = xfers_[slot].get();
  if (!x || !x->active || x->gen != gen) return nullptr;
  return x;
}

void Engine::Settle(Xfer* x, int32_t status, const std::string& msg) {
  if (!x->active) return;
  x->active = false;
  if (x->peerId != 0) {
    auto it = peers_.find(x->peerId);
    if (it != peers_.end() && it->second->inflight > 0) it->second->inflight--;
  }
  StoreSlot(slots_, x->slot, status);
  staged_.completions.push_back({x->slot, x->gen, status, status == kSuccess ? "" : msg});
}

void Engine::ApplyStatus(Xfer* x, int32_t status, const char* what) {
  if (status != kSuccess && x->status == kSuccess) {
    x->status = status;
    x->err = what;
  }
}

void Engine::ReplyDone(Xfer* x) {
  if (--x->pending > 0) return;
  if (x->status == kSuccess && x->hasNotif && x->notifAfter) {
    auto it = peers_.find(x->peerId);
    if (it != peers_.end() && it->second->state == Peer::kReady) {
      SendNotif(it->second.get(), x->notif.data(), x->notif.size(), x->Id());
    }
  }
  Settle(x, x->status, x->err);
}

void Engine::SendNotif(Peer* p, const uint8_t* msg, size_t len, uint64_t xferId) {
  Conn* c = p->streams[0];
  QueueOwned(c, MakeHeader(kNotif, 0, xferId, len), std::vector<uint8_t>(msg, msg + len));
}

void Engine::Submit(Xfer* x) {
  if (x->peerId == 0) {
    SubmitLocal(x);
    return;
  }
  auto it = peers_.find(x->peerId);
  Peer* p = it == peers_.end() ? nullptr : it->second.get();
  if (!p || p->state == Peer::kFailed) {
    x->active = true;
    Settle(x, kErrRemoteDisconnect, "peer is not connected (its connection failed)");
    return;
  }
  if (p->inflight++ == 0) p->lastProgressNs = NowNs();
  if (p->state != Peer::kReady) {
    x->waiting = true;
    p->waiting.push_back(x);
    if (p->state == Peer::kIdle) StartPeerConnect(p);
    return;
  }
  if (UsesCma(p, TotalBytes(x))) {
    SubmitCma(x, p);
  } else {
    SubmitSocket(x, p);
  }
}

uint64_t Engine::TotalBytes(const Xfer* x) {
  uint64_t bytes = 0;
  for (const XferDesc& d : x->descs) bytes += d.len;
  return bytes;
}

// Below kCmaMinBytes the payload rides in the frame: pinning a page of the
// peer's memory costs more than copying a few KiB through the socket.
bool Engine::UsesCma(const Peer* p, uint64_t bytes) { return p->cma && bytes >= kCmaMinBytes; }

void Engine::OnPeerReady(Peer* p) {
  p->state = Peer::kReady;
  p->lastProgressNs = NowNs();
  for (uint32_t t : p->tokens) staged_.events.push_back({Outbox::Event::kConnected, t, 0, ""});
  p->tokens.clear();
  std::vector<Xfer*> waiting;
  waiting.swap(p->waiting);
  for (Xfer* x : waiting) {
    x->waiting = false;
    if (UsesCma(p, TotalBytes(x))) {
      SubmitCma(x, p);
    } else {
      SubmitSocket(x, p);
    }
  }
  for (auto& m : p->waitingNotifs) SendNotif(p, m.data(), m.size(), 0);
  p->waitingNotifs.clear();
}

void Engine::SubmitLocal(Xfer* x) {
  int32_t st = kSuccess;
  {
    std::lock_guard<std::mutex> lock(regionMu_);
    for (const XferDesc& d : x->descs) {
      st = CheckRegion(d.regionId, d.key, d.raddr, d.len);
      if (st != kSuccess) break;
    }
    if (st == kSuccess) {
      for (const XferDesc& d : x->descs) {
        if (d.len == 0) continue;
        void* to = reinterpret_cast<void*>(x->op == XferOp::kWrite ? d.raddr : d.laddr);
        const void* from =
            reinterpret_cast<const void*>(x->op == XferOp::kWrite ? d.laddr : d.raddr);
        std::memmove(to, from, d.len);
      }
    }
  }
  if (st == kSuccess && x->hasNotif) staged_.notifs.push_back({cfg_.name, x->notif});
  Settle(x, st, "a descriptor is outside this agent's registered regions");
}

void Engine::SubmitCma(Xfer* x, Peer* p) {
  Conn* c = p->streams[0];
  Op op = x->op == XferOp::kWrite ? kCmaWrite : kCmaRead;
  std::vector<uint8_t> entries;
  uint64_t frameBytes = 0;
  auto flush = [&] {
    if (entries.empty()) return;
    QueueOwned(c, MakeHeader(op, 0, x->Id(), entries.size()), std::move(entries));
    entries = {};
    frameBytes = 0;
    x->pending++;
  };
  for (const XferDesc& d : x->descs) {
    uint64_t off = 0;
    do {
      uint64_t piece = std::min<uint64_t>(d.len - off, kMaxDataFrame);
      CmaEntry e{d.laddr + off, d.raddr + off, piece, d.key, d.regionId, 0};
      size_t at = entries.size();
      entries.resize(at + sizeof(e));
      std::memcpy(entries.data() + at, &e, sizeof(e));
      frameBytes += piece;
      off += piece;
      if (entries.size() / sizeof(CmaEntry) == kMaxCmaEntries || frameBytes >= kMaxDataFrame) {
        flush();
      }
    } while (off < d.len);
  }
  flush();
  if (x->hasNotif) SendNotif(p, x->notif.data(), x->notif.size(), x->Id());
  if (x->pending == 0) Settle(x, kSuccess, "");
}

void Engine::SubmitSocket(Xfer* x, Peer* p) {
  uint64_t total = TotalBytes(x);
  size_t nstreams = p->streams.size();
  if (total < cfg_.stripeMinBytes || nstreams < 2) nstreams = 1;
  uint64_t pieceMax = kMaxDataFrame / 4;  // 16 MiB frames keep streams interleaved
  if (nstreams > 1) {
    uint64_t share = (total + nstreams * 2 - 1) / (nstreams * 2);
    pieceMax = std::clamp<uint64_t>(share, 256 << 10, pieceMax);
  }
  TxItem* last[64] = {nullptr};
  if (nstreams > 64) nstreams = 64;
  uint32_t s = nstreams > 1 ? p->rr++ % nstreams : 0;
  uint64_t id = x->Id();
  for (const XferDesc& d : x->descs) {
    uint64_t off = 0;
    do {
      uint64_t piece = std::min<uint64_t>(d.len - off, pieceMax);
      Conn* c = p->streams[s];
      FrameHeader h = MakeHeader(x->op == XferOp::kWrite ? kWrite : kRead, 0, id, piece);
      h.regionId = d.regionId;
      h.key = d.key;
      h.addr = d.raddr + off;
      if (x->op == XferOp::kWrite) {
        Queue(c, h, reinterpret_cast<const uint8_t*>(d.laddr + off), piece);
        last[s] = &c->txq.back();
      } else {
        Queue(c, h, nullptr, 0);
        c->reads.push_back({id, d.laddr + off, piece});
        x->pending++;
      }
      off += piece;
      if (nstreams > 1 && piece >= pieceMax) s = (s + 1) % nstreams;
    } while (off < d.len);
  }
  if (x->op == XferOp::kWrite) {
    for (size_t i = 0; i < nstreams; i++) {
      if (last[i]) {
        last[i]->hdr.flags |= kFlagAckReq;
        x->pending++;
      }
    }
  }
  if (x->hasNotif) {
    // A WRITE on one stream keeps order (the target handles its frames in
    // sequence); over several streams the notification waits until every
    // stream has answered. A READ's notification always waits for the data:
    // the target sends READ_DATA from its region lazily, so a notification
    // that overtook it could let the target reuse memory still being read.
    bool inline_ = x->op == XferOp::kWrite;
    for (size_t i = 1; i < nstreams; i++) inline_ = inline_ && last[i] == nullptr;
    if (inline_ || x->pending == 0) {
      SendNotif(p, x->notif.data(), x->notif.size(), x->Id());
    } else {
      x->notifAfter = true;
    }
  }
  if (x->pending == 0) Settle(x, kSuccess, "");
}

}  // namespace nixl::tcp
