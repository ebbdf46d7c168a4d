// Connections: accepting (with the costs bounded before authentication),
// connecting, closing, failing a peer, timeouts, and queueing frames to send.
#include <sys/syscall.h>

#include "tcp/engine_internal.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5
#endif

namespace nixl::tcp {

namespace {

// A pidfd for the process at the other end of a Unix socket: it tells later
// whether that process exited (a pid alone may name another process by then).
// The socket's own answer where the kernel has it, else one opened by pid now.
int PeerPidFd(int sock, pid_t pid) {
  int pidfd = -1;
  socklen_t len = sizeof(pidfd);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) return pidfd;
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

}  // namespace

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
    sockaddr_storage from{};
    socklen_t fromLen = sizeof(from);
    int fd = accept4(listenFd, reinterpret_cast<sockaddr*>(&from), &fromLen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    c->id = nextConnId_++;
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
      // This side sends READ answers: its pacing is what a READ gets.
      SetCongestion(fd, CongestionFor(cfg_.tcpCongestion, from));
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
    if (!viaUnix) {
      SetSocketOptions(fd);
      SetCongestion(fd, CongestionFor(cfg_.tcpCongestion, ss));
    }
    Conn* c = new Conn();
    c->fd = fd;
    c->id = nextConnId_++;
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
  if (c->viaUnix) {
    // The kernel's word on the target's process: a same-host READ pulls from it.
    ucred cred{};
    socklen_t cl = sizeof(cred);
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
      c->remotePid = static_cast<uint32_t>(cred.pid);
      c->remoteUid = static_cast<uint32_t>(cred.uid);
      c->remotePidFd = PeerPidFd(c->fd, cred.pid);
    }
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
    if (c->cma) ForgetShmConn(c);
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
  // A closed connection unmaps what this engine mapped of the peer (no copy
  // is in progress: they hold ioMu_, as this thread does).
  p->shmMaps.clear();
  p->shmAsked.clear();
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
    staged_.events.push_back({CompletionBatch::kConnectFailed, t, status, why});
  }
  p->tokens.clear();
  if (!wasFailed) staged_.events.push_back({CompletionBatch::kDisconnected, p->id, status, why});
}

bool Engine::CheckTimeouts() {
  uint64_t now = NowNs();
  if (acceptPausedUntilNs_ != 0 && now >= acceptPausedUntilNs_) ResumeAccepting();
  bool watching = acceptPausedUntilNs_ != 0;
  for (auto& [id, pp] : peers_) {
    Peer* p = pp.get();
    watching = watching || p->quietSinceNs != 0 || p->state == Peer::kConnecting ||
               (p->state == Peer::kReady && p->inflight > 0);
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
    if (!c->outgoing && c->state == Conn::kWaitHello) {
      watching = true;
      if (now - c->createdNs > cfg_.connectTimeoutMs * 1000000ull) stale.push_back(c);
    }
  }
  for (Conn* c : stale) CloseConn(c, "handshake timed out");
  return watching;
}

void Engine::NoteOutsideCommand() {
  lastCommandNs_.store(NowNs());
  if (!idleSleep_.exchange(false)) return;
  uint64_t one = 1;
  ssize_t ignored = write(eventFd_, &one, sizeof(one));
  (void)ignored;
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

// Sends what the socket takes, at most maxBytes in this call (a posting or
// polling thread sends a bounded share; the rest waits for its next call).
bool Engine::Flush(Conn* c, uint64_t maxBytes) {
  uint64_t budget = maxBytes;
  while (!c->txq.empty() && budget > 0) {
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
    // A descriptor (SHM_GRANT) rides on its frame's first byte: that frame
    // starts a sendmsg of its own, so the descriptor arrives with it.
    int passFd = -1;
    bool first = true;
    for (auto& t : c->txq) {
      if (t.passFd >= 0 && t.sent == 0) {
        if (!first) break;
        passFd = t.passFd;
      }
      first = false;
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
    if (budget != UINT64_MAX) {
      uint64_t room = budget;
      for (int i = 0; i < n; i++) {
        if (iov[i].iov_len >= room) {
          iov[i].iov_len = room;
          n = i + 1;
          break;
        }
        room -= iov[i].iov_len;
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
    if (passFd >= 0) {
      msg.msg_control = ctl;
      msg.msg_controllen = sizeof(ctl);
      cmsghdr* h = CMSG_FIRSTHDR(&msg);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(h), &passFd, sizeof(int));
    }
    // One buffer (a request or an ACK alone, no descriptor): send(), which
    // skips sendmsg's copy of the msghdr and its iovec from user memory,
    // measured 0.17 us less per call on this VM (bench/cli/results/2026-12-busy-poll-6/).
    ssize_t sent = n == 1 && passFd < 0
                       ? send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT)
                       : sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (lock.owns_lock()) lock.unlock();
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return false;
    }
    if (passFd >= 0 && sent > 0) {
      close(c->txq.front().passFd);  // the peer holds its own copy now
      c->txq.front().passFd = -1;
    }
    if (c->peer) c->peer->lastProgressNs = NowNs();
    uint64_t left = static_cast<uint64_t>(sent);
    if (budget != UINT64_MAX) budget -= std::min(budget, left);
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

}  // namespace nixl::tcp
