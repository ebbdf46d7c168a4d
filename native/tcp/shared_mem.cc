// Same-host shared memory (FRAMES.md, "Shared memory"): memory this engine
// allocated from a memfd may be mapped by a same-host peer the kernel vouches
// for (the CMA connection), once a registered region covers the whole
// allocation. The initiator asks lazily (SHM_MAP), the target grants by
// passing the memfd (SHM_GRANT, SCM_RIGHTS); transfers into or out of a mapped
// region are then one memcpy on the posting thread. On deregistration the
// target asks every grantee to unmap (SHM_UNMAP / SHM_UNMAPPED) and waits a
// bounded time; a peer that does not answer is dropped, and the target's own
// view of the memory is made private so that a stale mapping never reaches it.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>

#include "tcp/engine_internal.h"

namespace nixl::tcp {

SharedAlloc::~SharedAlloc() {
  if (addr != nullptr) munmap(addr, mapLen);
  if (fd >= 0) close(fd);
}

std::shared_ptr<SharedAlloc> Engine::AllocShared(uint64_t bytes) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  auto a = std::make_shared<SharedAlloc>();
  a->bytes = bytes;
  a->mapLen = std::max<uint64_t>(page, (bytes + page - 1) / page * page);
  // The name shows in a mapping peer's /proc/<pid>/maps.
  a->fd = memfd_create("nixl-tcp-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (a->fd < 0) throw std::runtime_error(std::string("memfd_create: ") + strerror(errno));
  if (ftruncate(a->fd, static_cast<off_t>(a->mapLen)) != 0) {
    throw std::runtime_error(std::string("ftruncate of the memfd: ") + strerror(errno));
  }
  // Sealed at its size: a peer that holds the descriptor could otherwise
  // shrink the file and turn this process's next touch of the Buffer into
  // SIGBUS (and ours of its mapping, the other way round).
  if (fcntl(a->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    throw std::runtime_error(std::string("sealing the memfd: ") + strerror(errno));
  }
  void* m = mmap(nullptr, a->mapLen, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
  if (m == MAP_FAILED)
    throw std::runtime_error(std::string("mmap of the memfd: ") + strerror(errno));
  a->addr = static_cast<uint8_t*>(m);  // a new memfd reads as zeros
  std::lock_guard<std::mutex> lock(regionMu_);
  std::erase_if(sharedAllocs_, [](const auto& e) { return e.second.expired(); });
  sharedAllocs_[reinterpret_cast<uint64_t>(a->addr)] = a;
  return a;
}

ShmCounters Engine::shmCounters() {
  std::lock_guard<std::mutex> lock(countersMu_);
  return counters_;
}

// recv, except on an initiator's Unix connection, where a target's SHM_GRANT
// carries a descriptor: those are kept in order (rxFds). Truncated control
// data, or more descriptors than grants could explain, break the connection.
ssize_t Engine::RecvSome(Conn* c, void* buf, size_t len) {
  if (!(c->outgoing && c->viaUnix)) {
    ssize_t r = recv(c->fd, buf, len, 0);
    if (r > 0) c->bytesIn += static_cast<uint64_t>(r);
    return r;
  }
  iovec v{buf, len};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof(ctl);
  ssize_t n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  c->bytesIn += static_cast<uint64_t>(n);
  bool bad = (m.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr* h = CMSG_FIRSTHDR(&m); h != nullptr; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
      c->rxFds.push_back(fd);
    }
  }
  if (c->rxFds.size() > kMaxRxFds) bad = true;
  if (bad) {
    errno = EPROTO;
    return -1;
  }
  return n;
}

Engine::Conn* Engine::ConnById(uint64_t id) {
  for (Conn* c : conns_) {
    if (c->id == id) return c;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Initiator side.

// Every descriptor lies in a region of this peer that is mapped here, or,
// for a READ, that this engine may pull from (at most one process_vm_readv's
// worth of them), and the whole transfer is at most shm_max_bytes.
bool Engine::ShmReady(const Xfer* x, const Peer* p, uint64_t* totalOut) {
  if (!cfg_.shm || p->shmMaps.empty() || x->descs.empty()) return false;
  uint64_t total = 0;
  size_t pulls = 0;
  uint32_t lastRid = 0;
  const ShmMap* m = nullptr;
  for (const XferDesc& d : x->descs) {
    if (m == nullptr || d.regionId != lastRid) {
      auto it = p->shmMaps.find(d.regionId);
      if (it == p->shmMaps.end()) return false;
      m = it->second.get();
      lastRid = d.regionId;
    }
    // Out of bounds or another key: today's path, where the target refuses it.
    if (m->key != d.key || d.raddr < m->base || d.len > m->len ||
        d.raddr - m->base > m->len - d.len) {
      return false;
    }
    // A pull grant covers READs only: a WRITE is the target's to copy.
    if (m->local == nullptr && (x->op != XferOp::kRead || ++pulls > kMaxCmaEntries)) return false;
    total += d.len;
  }
  if (totalOut != nullptr) *totalOut = total;
  return total <= cfg_.shmMaxBytes;
}

// The copy itself, under ioMu_ like everything that touches a mapping: an
// SHM_UNMAP waits for it. A bound notification follows on stream 0, after
// whatever that connection already has queued, and after the bytes are in
// the shared memory; where the peer acknowledges it, the transfer is DONE
// on that ACK.
bool Engine::SubmitShm(Xfer* x, Peer* p) {
  uint64_t total = 0;
  if (!ShmReady(x, p, &total)) return false;
  const bool parallel = total > cfg_.shmInlineMaxBytes && x->descs.size() <= kMaxCmaEntries;
  iovec local[kMaxCmaEntries];  // filled only for a parallel copy
  iovec there[kMaxCmaEntries];
  size_t k = 0;
  iovec pullTo[kMaxCmaEntries];  // READs from pull grants (ShmReady bounds them)
  iovec pullFrom[kMaxCmaEntries];
  size_t pulls = 0;
  uint64_t pullBytes = 0;
  uint32_t lastRid = 0;
  const ShmMap* m = nullptr;
  for (const XferDesc& d : x->descs) {
    if (m == nullptr || d.regionId != lastRid) {
      m = p->shmMaps.find(d.regionId)->second.get();
      lastRid = d.regionId;
    }
    if (d.len == 0) continue;
    uint8_t* here = reinterpret_cast<uint8_t*>(d.laddr);
    if (m->local == nullptr) {
      pullTo[pulls] = {here, d.len};
      pullFrom[pulls] = {reinterpret_cast<void*>(d.raddr), d.len};
      pulls++;
      pullBytes += d.len;
      continue;
    }
    uint8_t* mapped = m->local + (d.raddr - m->base);
    if (parallel) {
      local[k] = {here, d.len};
      there[k] = {mapped, d.len};
      k++;
    } else if (x->op == XferOp::kWrite) {
      std::memcpy(mapped, here, d.len);
    } else {
      std::memcpy(here, mapped, d.len);
    }
  }
  // A large copy (on the I/O thread, see InlineEligible) is shared with the
  // copy threads: one core alone does not reach the memory's bandwidth.
  if (parallel && k > 0) copyPool_->Copy(0, x->op == XferOp::kRead, local, there, k, total);
  if (pulls > 0) {
    const char* why = PullGranted(p, pullTo, pullFrom, pulls, pullBytes);
    if (why != nullptr) {
      Settle(x, kErrRemoteDisconnect, why);
      return true;
    }
  }
  if (x->hasNotif) SendBoundNotif(x, p);
  {
    std::lock_guard<std::mutex> lock(countersMu_);
    counters_.copies++;
  }
  if (x->pending == 0) Settle(x, kSuccess, "");  // else DONE on the notification's ACK
  return true;
}

// Reads from the target's memory under a pull grant; nullptr, or why not.
// The pid comes from the kernel (SO_PEERCRED); its pidfd says afterwards
// whether that process is still the one the pid named, so bytes read from a
// process that exited (its pid perhaps another's by now) are never DONE.
const char* Engine::PullGranted(Peer* p, iovec* to, iovec* from, size_t n, uint64_t bytes) {
  Conn* c = p->streams.empty() ? nullptr : p->streams[0];
  if (c == nullptr || c->remotePid == 0 || c->remotePidFd < 0) {
    return "the target's process is not known here";
  }
  bool ok = copyPool_->Copy(static_cast<pid_t>(c->remotePid), true, to, from, n, bytes);
  pollfd exited{c->remotePidFd, POLLIN, 0};
  if (poll(&exited, 1, 0) != 0) return "the target's process exited";
  if (!ok) return "reading the target's memory failed (the region is no longer mapped there)";
  return nullptr;
}

// Asks for a mapping of each region of the transfer not asked for yet (one
// SHM_MAP each, on the CMA stream). The transfer itself takes today's path.
void Engine::AskShmMaps(const Xfer* x, Peer* p) {
  if (!cfg_.shm || !p->cma || p->streams.empty()) return;
  Conn* c = p->streams[0];
  if (!c->cma || c->state != Conn::kReady) return;
  for (const XferDesc& d : x->descs) {
    if (p->shmAsked.count(d.regionId) != 0 || p->shmAsked.size() >= kMaxShmAsks) continue;
    p->shmAsked[d.regionId] = kShmAsked;
    FrameHeader h = MakeHeader(kShmMap, 0, 0, 0);
    h.regionId = d.regionId;
    h.key = d.key;
    Queue(c, h, nullptr, 0);
  }
}

// SHM_GRANT: map the descriptor that came with it, or remember the refusal.
bool Engine::OnShmGrant(Conn* c) {
  const FrameHeader& h = c->cur;
  Peer* p = c->peer;
  if (p == nullptr || !c->cma) return false;
  auto asked = p->shmAsked.find(h.regionId);
  if (asked == p->shmAsked.end() || asked->second != kShmAsked) return false;  // never asked
  if (h.status != kSuccess) {
    asked->second = kShmRefused;
    return true;
  }
  uint64_t len;
  std::memcpy(&len, c->pbuf.data(), sizeof(len));
  const bool pullOnly = (h.flags & kFlagPullOnly) != 0;
  void* m = nullptr;  // stays null for a pull grant
  if (pullOnly) {
    // Without a pidfd this side could not tell a reused pid: decline it.
    if (c->remotePidFd < 0 || len == 0 || h.addr + len < h.addr) {
      asked->second = kShmRefused;
      return true;
    }
  } else {
    if (c->rxFds.empty()) return false;  // a grant without its descriptor
    int fd = c->rxFds.front();
    c->rxFds.pop_front();
    struct stat st {};
    m = MAP_FAILED;
    // Only a memfd sealed against shrinking is mapped: the target (or anyone it
    // passed the descriptor to) cannot truncate it under this mapping.
    const int seals = fcntl(fd, F_GET_SEALS);
    if (len > 0 && seals >= 0 && (seals & F_SEAL_SHRINK) != 0 && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) >= len) {
      m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (m == MAP_FAILED) {
      asked->second = kShmRefused;
      return true;
    }
  }
  auto map = std::make_unique<ShmMap>();
  map->base = h.addr;
  map->len = len;
  map->key = h.key;
  map->local = static_cast<uint8_t*>(m);
  p->shmMaps[h.regionId] = std::move(map);
  asked->second = kShmMapped;
  std::lock_guard<std::mutex> lock(countersMu_);
  (pullOnly ? counters_.pullGrants : counters_.maps)++;
  return true;
}

// SHM_UNMAP: no copy is in progress (this thread holds ioMu_, as every copy
// does), so unmap now and say so. The region is never asked for again.
void Engine::OnShmUnmap(Conn* c) {
  const uint32_t rid = c->cur.regionId;
  if (Peer* p = c->peer) {
    p->shmMaps.erase(rid);
    if (p->shmAsked.count(rid) != 0) p->shmAsked[rid] = kShmRefused;
  }
  FrameHeader r = MakeHeader(kShmUnmapped, 0, 0, 0);
  r.regionId = rid;
  Queue(c, r, nullptr, 0);
}

// ---------------------------------------------------------------------------
// Target side.

// SHM_MAP: a mapping only for a region that covers a whole allocation of
// AllocShared (a peer holding the memfd can map all of it), still shared,
// with the region's key; any other region of ours gets a pull grant (the peer
// may READ it with process_vm_readv, which the kernel already allows a
// same-user process; what the grant adds is that we revoke it). The grant is
// recorded on the region, under the same lock as the check, so a
// deregistration that follows knows to revoke it.
void Engine::ServeShmMap(Conn* c) {
  const FrameHeader& h = c->cur;
  int32_t st = kSuccess;
  int fd = -1;
  bool pullOnly = false;
  uint64_t base = 0, len = 0;
  {
    std::lock_guard<std::mutex> lock(regionMu_);
    auto it = regions_.find(h.regionId);
    if (!cfg_.shm) {
      st = kErrNotSupported;
    } else if (it == regions_.end()) {
      st = kErrNotFound;
    } else if (it->second.key != h.key) {
      st = kErrNotAllowed;
    } else {
      Region& r = it->second;
      auto a = sharedAllocs_.find(r.addr);
      std::shared_ptr<SharedAlloc> alloc = a == sharedAllocs_.end() ? nullptr : a->second.lock();
      // Not ours, a part of one, or private since: pull only.
      pullOnly = !alloc || alloc->fd < 0 || alloc->bytes != r.len;
      if (!pullOnly) fd = fcntl(alloc->fd, F_DUPFD_CLOEXEC, 0);
      if (!pullOnly && fd < 0) {
        st = kErrBackend;
      } else {
        base = r.addr;
        len = r.len;
        bool known = false;
        for (const Grant& g : r.grants) known = known || g.connId == c->id;
        if (!known) r.grants.push_back({c->id, c->remotePid, !pullOnly});
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(countersMu_);
    if (st == kSuccess) {
      counters_.grants++;
    } else {
      counters_.refused++;
    }
  }
  FrameHeader r = MakeHeader(kShmGrant, pullOnly ? kFlagPullOnly : 0, 0, kShmGrantPayload);
  r.status = st;
  r.regionId = h.regionId;
  r.key = h.key;
  r.addr = base;
  std::vector<uint8_t> payload(kShmGrantPayload);
  std::memcpy(payload.data(), &len, sizeof(len));
  QueueOwned(c, r, std::move(payload));
  c->txq.back().passFd = fd;
}

void Engine::OnShmUnmapped(Conn* c) {
  std::lock_guard<std::mutex> lock(unmapMu_);
  auto it = unmapWaits_.find(c->cur.regionId);
  if (it == unmapWaits_.end()) return;
  std::erase(it->second.conns, c->id);
  unmapCv_.notify_all();
}

// An incoming connection closes: a revocation waiting for it will not get
// its answer, and the peer may still hold the mapping (a frozen process).
void Engine::ForgetShmConn(Conn* c) {
  std::lock_guard<std::mutex> lock(unmapMu_);
  bool any = false;
  for (auto& [rid, w] : unmapWaits_) {
    if (std::erase(w.conns, c->id) > 0) {
      w.lost = true;
      any = true;
    }
  }
  if (any) unmapCv_.notify_all();
}

// Deregistration of a granted region (JavaScript thread, no lock held): ask
// every grantee to unmap, wait for the answers up to shmUnmapTimeoutMs, drop
// the peers that did not answer, and if any may still hold a mapping, make
// this process's view of the memory private before returning.
void Engine::RevokeGrants(uint32_t regionId, const Region& r) {
  bool privatize = false;
  // Only a mapping can change the memory later; a pull grant only read it.
  bool mapped = false;
  for (const Grant& g : r.grants) mapped = mapped || g.mapped;
  std::vector<uint64_t> asked;
  if (started_ && !stop_.load()) {
    std::lock_guard<std::mutex> io(ioMu_);
    for (const Grant& g : r.grants) {
      Conn* c = ConnById(g.connId);
      if (c != nullptr && c->state == Conn::kReady) {
        FrameHeader h = MakeHeader(kShmUnmap, 0, 0, 0);
        h.regionId = regionId;
        Queue(c, h, nullptr, 0);
        asked.push_back(g.connId);
      } else if (kill(static_cast<pid_t>(g.pid), 0) == 0 || errno != ESRCH) {
        privatize = true;  // its connection is gone, its process may not be
      }
    }
    if (!asked.empty()) {
      std::lock_guard<std::mutex> lock(unmapMu_);
      unmapWaits_[regionId] = UnmapWait{asked, false};
    }
    FlushDirty();
  } else {
    privatize = true;  // nobody left to ask
  }
  if (!asked.empty()) {
    std::vector<uint64_t> late;
    {
      std::unique_lock<std::mutex> lock(unmapMu_);
      auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.shmUnmapTimeoutMs);
      unmapCv_.wait_until(lock, until, [&] { return unmapWaits_[regionId].conns.empty(); });
      UnmapWait& w = unmapWaits_[regionId];
      late = std::move(w.conns);
      privatize = privatize || w.lost || !late.empty();
      unmapWaits_.erase(regionId);
    }
    if (!late.empty() && started_ && !stop_.load()) {
      // Dropped: every incoming connection of that agent closes.
      std::lock_guard<std::mutex> io(ioMu_);
      std::vector<std::string> names;
      for (uint64_t id : late) {
        if (Conn* c = ConnById(id)) names.push_back(c->remoteName);
      }
      std::vector<Conn*> doomed;
      for (Conn* c : conns_) {
        if (!c->outgoing && std::find(names.begin(), names.end(), c->remoteName) != names.end()) {
          doomed.push_back(c);
        }
      }
      for (Conn* c : doomed) CloseConn(c, "did not unmap a deregistered region in time");
      Publish();
      std::lock_guard<std::mutex> lock(countersMu_);
      counters_.dropped += late.size();
    }
  }
  if (privatize && mapped) Privatize(r.addr);
}

// Replaces this process's view of an allocation with private memory holding
// the same bytes, at the same address (mremap over it is atomic): a peer's
// stale mapping of the memfd then reaches only the memfd's pages, which
// nothing here uses any more. The allocation is never granted again.
void Engine::Privatize(uint64_t addr) {
  std::shared_ptr<SharedAlloc> a;
  {
    // Under ioMu_: another region of the same allocation (a part of it,
    // registered too) may be written by the I/O thread or an inline post, and
    // a write between the copy and the move would be lost.
    std::lock_guard<std::mutex> io(ioMu_);
    std::lock_guard<std::mutex> lock(regionMu_);
    auto it = sharedAllocs_.find(addr);
    if (it != sharedAllocs_.end()) a = it->second.lock();
    if (!a || a->fd < 0) return;
    void* tmp =
        mmap(nullptr, a->mapLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tmp == MAP_FAILED) return;  // out of memory: the shared view stays (nothing better to do)
    std::memcpy(tmp, a->addr, a->mapLen);
    if (mremap(tmp, a->mapLen, a->mapLen, MREMAP_MAYMOVE | MREMAP_FIXED, a->addr) == MAP_FAILED) {
      munmap(tmp, a->mapLen);
      return;
    }
    close(a->fd);
    a->fd = -1;
  }
  std::lock_guard<std::mutex> lock(countersMu_);
  counters_.privatized++;
}

}  // namespace nixl::tcp
