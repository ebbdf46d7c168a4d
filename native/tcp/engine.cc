// The engine's lifetime (start, stop, join), its region table and its I/O
// loop (see engine.h).
#include "tcp/engine_internal.h"

namespace nixl::tcp {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// ---------------------------------------------------------------------------
// Lifetime.

Engine::Engine(EngineConfig cfg, std::function<void()> wake, std::function<void()> onExit)
    : cfg_(std::move(cfg)),
      onExit_(std::move(onExit)),
      out_(std::move(wake)),
      copyPool_(std::make_unique<VmCopyPool>(cfg_.copyThreads)) {
  FillRandom(secret_, sizeof(secret_));
  if (!crypto::Ed25519PublicKey(cfg_.identitySeed, publicKey_)) {
    throw std::runtime_error("the identity key is not a valid Ed25519 seed");
  }
  cmds_ = new std::vector<Cmd>();
  cmdsSpare_ = new std::vector<Cmd>();
  cmds_->reserve(256);
  cmdsSpare_->reserve(256);
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
  // A named algorithm the kernel refuses (not loaded, or not allowed to this
  // process) is an error now, not a silent fallback on every connection.
  if (cfg_.tcpCongestion != "auto" && cfg_.tcpCongestion != "system" &&
      !SetCongestion(listenFd_, cfg_.tcpCongestion.c_str())) {
    std::string err = strerror(errno);
    close(listenFd_);
    listenFd_ = -1;
    throw std::runtime_error("tcp_congestion '" + cfg_.tcpCongestion + "': " + err);
  }
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
  pollWatchFd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (pollWatchFd_ >= 0) {
    ev.data.u64 = kPollWatchTag;
    epoll_ctl(epollFd_, EPOLL_CTL_ADD, pollWatchFd_, &ev);
  }
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
  // Regions still granted to peers whose connections close now: nobody is
  // left to ask to unmap, so this process's view of them becomes private.
  std::vector<uint64_t> granted;
  {
    std::lock_guard<std::mutex> lock(regionMu_);
    for (auto& [id, r] : regions_) {
      for (const Grant& g : r.grants) {
        if (g.mapped) {
          granted.push_back(r.addr);
          break;
        }
      }
      r.grants.clear();
    }
  }
  for (uint64_t addr : granted) Privatize(addr);
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
  if (pollWatchFd_ >= 0) close(pollWatchFd_);
}

// ---------------------------------------------------------------------------
// Region table.

uint32_t Engine::RegisterRegion(uint64_t addr, uint64_t len, uint64_t* key) {
  uint64_t k;
  FillRandom(&k, sizeof(k));
  std::lock_guard<std::mutex> lock(regionMu_);
  uint32_t id = nextRegionId_++;
  regions_[id] = Region{addr, len, k, {}};
  *key = k;
  return id;
}

bool Engine::DeregisterRegion(uint32_t regionId) {
  Region r;
  {
    std::lock_guard<std::mutex> lock(regionMu_);
    auto it = regions_.find(regionId);
    if (it == regions_.end()) return false;
    r = std::move(it->second);
    regions_.erase(it);
  }
  // Shared with same-host peers: they unmap first (or are dropped).
  if (!r.grants.empty()) RevokeGrants(regionId, r);
  return true;
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
// The I/O loop.

void Engine::Run() {
  tOnIoThread = true;
  epoll_event evs[64];
  // busy_poll_us: after serving a peer's request, poll instead of sleeping for
  // a while, since the next request usually follows. Only serving counts: an
  // initiator's own completions are polled for by the posting thread
  // (PollForCompletion), and a third spinning thread on a small machine costs
  // more than the sleep it saves.
  uint64_t lastServed = 0;
  uint64_t lastYieldNs = 0;
  const uint64_t spinNs = cfg_.busyPollUs * 1000;
  // While spinning, a look is one recv on the connection served last, as the
  // spinning C server's look is, not an epoll_wait(0) and then that recv: a
  // one-at-a-time initiator's next request comes on it. Every kSpinEpollNs,
  // and whenever a command is queued, the loop looks at everything else.
  Conn* spinConn = nullptr;
  uint64_t lastEpollNs = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    uint64_t now = NowNs();
    bool spin = spinNs > 0 && now - lastServed < spinNs;
    if (spin && spinConn != nullptr && now - lastEpollNs < kSpinEpollNs &&
        !cmdPending_.load(std::memory_order_relaxed)) {
      switch (LookOnServed(spinConn)) {
        case Look::kNothing:
          YieldNowAndThen(&lastYieldNs);
          break;
        case Look::kServed:
          lastServed = NowNs();
          break;
        case Look::kNeedsEpoll:
          lastServed = NowNs();
          spinConn = nullptr;
          break;
      }
      continue;
    }
    lastEpollNs = now;
    int timeout = 0;
    bool idle = false;
    if (!spin) {
      sleeping_.store(true);
      // Idle: nothing for a while, and nothing to watch since the last
      // command. idleSleep_ is set before lastCommandNs_ is read (both
      // sequentially consistent): a command from another thread either is
      // seen here or sees the flag and wakes this thread (NoteOutsideCommand).
      idleSleep_.store(true);
      idle = now - lastBusyNs_ > kIdleAfterNs && lastTimerNs_ > lastCommandNs_.load();
      if (!idle) idleSleep_.store(false);
      timeout = cmdPending_.load() ? 0 : idle ? kIdleTickMs : kTickMs;
    }
    int n = epoll_wait(epollFd_, evs, 64, timeout);
    if (idle) idleSleep_.store(false);
    if (spin && n == 0 && !cmdPending_.load(std::memory_order_relaxed)) {
      // Nothing yet: give the CPU to whoever else is runnable on it before
      // looking again, without taking ioMu_ (a post may run inline). On 2
      // vCPUs the peer that will send the next request (a polling caller)
      // is often queued on this very CPU, woken there by this thread's last
      // answer; a spin that does not yield holds it off for the whole window
      // (perf sched: 62 µs per transfer, bench/cli/results/2026-12-busy-poll-yield.md).
      // Once per kSpinYieldNs, as the polling caller does.
      YieldNowAndThen(&lastYieldNs);
      continue;
    }
    bool served = false;
    Conn* servedConn = nullptr;
    int servedConns = 0;
    // Everything below owns the engine's state; a post from JavaScript that
    // finds this lock free runs inline (TryRunInline).
    ioWanted_.store(true, std::memory_order_relaxed);
    std::lock_guard<std::mutex> io(ioMu_);
    ioWanted_.store(false, std::memory_order_relaxed);
    sleeping_.store(false, std::memory_order_relaxed);
    const uint64_t settledBefore = settles_;
    // Queued commands first: a peer added without a wake-up (AddPeer) has its
    // name bound to its metadata's key before a HELLO under that name is read.
    // New peers alone keep an idle thread on its long sleep.
    if (cmdPending_.exchange(false) && DrainCommands()) lastCommandNs_.store(NowNs());
    bool sawEvent = false;
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == kEventTag) {
        uint64_t v;
        ssize_t ignored = read(eventFd_, &v, sizeof(v));
        (void)ignored;
        continue;
      }
      sawEvent = true;  // an event other than a command's wake-up
      if (tag == kPollWatchTag) {
        OnPollWatch();
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
        if (!c->outgoing) {
          served = true;
          servedConn = c;
          servedConns++;
        }
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
    // A command (a post, a connect) may start something to watch: the next
    // CheckTimeouts says, before the thread sleeps long again.
    if (cmdPending_.exchange(false) && DrainCommands()) lastCommandNs_.store(NowNs());
    FlushDirty();
    now = NowNs();
    if (sawEvent) lastBusyNs_ = now;
    if (now - lastTimerNs_ > kTickMs * 1'000'000ull) {
      lastTimerNs_ = now;
      if (CheckTimeouts()) lastBusyNs_ = now;
    }
    Publish();
    if (settles_ != settledBefore) Linger();
    // Several connections in one round (striped streams, other peers): none
    // of them is the one the next request comes on. Before the graveyard
    // goes: a connection closed meanwhile is not looked at again.
    if (spinNs > 0 && served) spinConn = servedConns == 1 ? servedConn : nullptr;
    if (spinConn != nullptr && (spinConn->state != Conn::kReady || !spinConn->txq.empty())) {
      spinConn = nullptr;
    }
    for (Conn* c : graveyard_) delete c;
    graveyard_.clear();
    if (served) lastServed = NowNs();
  }
  if (onExit_) onExit_();
}

// busy_poll_us: one look of the spinning I/O thread at the connection it
// served last (Run): a recv, and if a request came, its answer sent at once.
// A connection closed meanwhile (by a command run inline) stays in the
// graveyard until Run's next epoll round, which stops these looks at it.
Engine::Look Engine::LookOnServed(Conn* c) {
  std::unique_lock<std::mutex> io(ioMu_, std::try_to_lock);
  if (!io.owns_lock() || c->state != Conn::kReady) return Look::kNothing;
  const uint64_t before = c->bytesIn;
  if (!HandleReadable(c)) CloseConn(c, "connection closed by the peer");
  if (c->bytesIn == before && c->state == Conn::kReady) return Look::kNothing;
  FlushDirty();  // the answer (queued dirty)
  Publish();
  // What the socket did not take waits for EPOLLOUT, which only epoll_wait
  // reports; a closed connection's round goes there too.
  if (c->state != Conn::kReady || !c->txq.empty()) return Look::kNeedsEpoll;
  return Look::kServed;
}

void Engine::FlushDirty(uint64_t maxBytes) {
  for (size_t i = 0; i < dirty_.size(); i++) {
    Conn* c = dirty_[i];
    c->inDirty = false;
    if (c->state == Conn::kClosed || c->state == Conn::kConnecting) continue;
    if (!Flush(c, maxBytes)) {
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

void Engine::Publish() { out_.Publish(staged_); }

// Only the notifications staged so far (in order), not the round's settled
// posts: those an inline post or a poll settles itself (TryRunInline, Progress).
void Engine::PublishNotifs() {
  if (staged_.notifs.empty()) return;
  CompletionBatch notifs;
  notifs.notifs.swap(staged_.notifs);
  out_.Publish(notifs);
}

// This round completed a transfer (its status slot reads DONE now) and its
// peer has nothing else in flight. A caller that polls for it, as nixlbench's
// loop does, posts the next one within microseconds: this thread waits for
// that post for up to linger_us, holding ioMu_, so the post queues instead of
// running inline (TryRunInline), and this thread, awake already, sends it.
// Why (perf sched traces on 2 vCPUs, bench/cli/results/2026-12-socket-read-linger/):
// a request sent from the caller's thread wakes the target's I/O thread onto
// the caller's CPU, and its answer then wakes this thread on the other CPU,
// busy or idle: 10-25 µs of scheduling delay per transfer, and now and then a
// whole scheduler slice (over 1 ms) when one of them queues behind the
// spinning caller. Sent from here, the two I/O threads pass one CPU between
// them and the polling caller keeps the other. A linger that sees no post
// backs off: the next 1, 2, 4 ... kLingerMaxBackoff chances are skipped.
// Never with busy_poll_us (the caller then sends and reads itself).
void Engine::Linger() {
  if (cfg_.lingerUs == 0 || cfg_.busyPollUs > 0 || lastSettledPeer_ == 0) return;
  if (lingerSkip_ > 0) {
    lingerSkip_--;
    return;
  }
  auto it = peers_.find(lastSettledPeer_);
  if (it == peers_.end() || it->second->inflight > 0) return;  // answers are on their way
  const uint64_t until = NowNs() + cfg_.lingerUs * 1000;
  while (!cmdPending_.load()) {
    if (stop_.load(std::memory_order_relaxed) || NowNs() >= until) {
      LingerMissed();
      return;
    }
  }
  // A post seen only after the window closed (this thread was descheduled
  // between its looks, as on a loaded machine) is sent all the same, but
  // counts as a miss: the caller did not post within linger_us.
  if (NowNs() >= until) {
    LingerMissed();
  } else {
    lingerHits_.fetch_add(1, std::memory_order_relaxed);
    lingerBackoff_ = 0;
  }
  cmdPending_.store(false);
  DrainCommands();
  FlushDirty();
  Publish();
}

// A linger that saw no post in time: the next 1, 2, 4 ... chances are skipped.
void Engine::LingerMissed() {
  lingerMisses_.fetch_add(1, std::memory_order_relaxed);
  lingerBackoff_ = std::min(lingerBackoff_ == 0 ? 1 : lingerBackoff_ * 2, kLingerMaxBackoff);
  lingerSkip_ = lingerBackoff_;
}

void Engine::AwaitPublished() {
  if (!started_) return;
  std::lock_guard<std::mutex> io(ioMu_);
}

}  // namespace nixl::tcp
