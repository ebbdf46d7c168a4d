// Receiving: reading frames from a connection, dispatching them on both
// sides, and serving requests against the region table (FRAMES.md, "Rules
// the target enforces").
#include "tcp/engine_internal.h"

namespace nixl::tcp {

// ---------------------------------------------------------------------------
// Receiving.

// Reads and handles frames. Once a frame that needs an answer is complete and
// nothing more is buffered, it returns instead of trying another recv: the
// caller flushes the answer now, rather than after a recv that would most
// likely say EAGAIN (a system call costs over 1 µs on a VM). The socket is
// level-triggered, so whatever arrives meanwhile is read on the next round.
bool Engine::HandleReadable(Conn* c) {
  uint64_t budget = kReadBudget;
  const uint64_t settledBefore = settles_;
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
          (c->remaining >= kDirectRecvMin || c->headerAlone)) {
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
    // An answer that settled a transfer, with nothing after it buffered, ends
    // the read; the next recv would most likely say EAGAIN, a system call
    // between the answer and the caller that waits for it. Epoll is level
    // triggered: anything that did arrive is reported again.
    if (c->outgoing && !c->inPayload && c->rend == 0 && settles_ != settledBefore) {
      return true;
    }
    if (ReadsInPlace(c)) {
      ssize_t got;
      if (!RecvReadInPlace(c, &got)) return false;
      if (got == 0) return true;  // would block
      budget = budget > uint64_t(got) ? budget - uint64_t(got) : 0;
      continue;
    }
    size_t room = c->rbuf.size() - c->rend;
    if (c->headerAlone) {
      // rbuf holds no more than part of the next header (or a READ_DATA's
      // trailer still due): read up to the end of that header only.
      size_t due = (c->inPayload ? c->remaining : 0) + kHeaderSize;
      room = std::min(room, due > c->rend ? due - c->rend : room);
    }
    ssize_t n = RecvSome(c, c->rbuf.data() + c->rend, room);
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
  ssize_t n = RecvSome(c, c->dst, want);
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
  c->headerAlone = false;
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
        c->headerAlone = h.len >= kDirectRecvMin;
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
          c->NoteRefused(h.xferId, st);
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
      case kCmaDone:
        if (!c->cma || h.len % sizeof(CmaEntry) != 0 || h.len / sizeof(CmaEntry) > kMaxCmaEntries) {
          return false;
        }
        begin(Conn::kBuf, h.len);
        break;
      case kShmMap:
      case kShmUnmapped:
        if (!c->cma || h.len != 0) return false;  // shared memory only where CMA was granted
        begin(Conn::kBuf, 0);
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
        case kCmaGrant:
          if (h.len != 0 || c->cmaReads.empty() || c->cmaReads.front().xferId != h.xferId) {
            return false;
          }
          begin(Conn::kBuf, 0);
          break;
        case kShmGrant:
          if (!c->cma || h.len != kShmGrantPayload) return false;
          begin(Conn::kBuf, h.len);
          break;
        case kShmUnmap:
          if (!c->cma || h.len != 0) return false;
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
          c->headerAlone = h.len >= kDirectRecvMin;
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
        if (c->payStatus != kSuccess) c->NoteRefused(h.xferId, c->payStatus);
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
      case kNotif: {
        // A notification bound to a transfer this connection refused part of
        // is dropped: its data is not (all) in memory.
        const bool refused = h.xferId != 0 && h.xferId == c->refusedXfer;
        if (!refused) staged_.notifs.push_back({c->remoteName, std::move(c->pbuf)});
        c->pbuf.clear();
        if (h.flags & kFlagAckReq) {
          // The initiator's transfer is DONE on this ACK: the notification
          // goes to JavaScript's pending batch before the ACK can leave.
          PublishNotifs();
          FrameHeader r = MakeHeader(kAck, 0, h.xferId, 0);
          r.status = refused ? c->refusedStatus : kSuccess;
          Queue(c, r, nullptr, 0);
        }
        return true;
      }
      case kCmaWrite:
        ServeCmaWrite(c);
        return true;
      case kCmaRead:
        AnswerCmaRead(c, kCmaGrant);
        return true;
      case kCmaDone:
        AnswerCmaRead(c, kAck);
        return true;
      case kShmMap:
        ServeShmMap(c);
        return true;
      case kShmUnmapped:
        OnShmUnmapped(c);
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
      if (c->answersDue > 0) c->answersDue--;
      Xfer* x = FindXfer(h.xferId);
      if (x) {
        ApplyStatus(x, h.status, "the target refused a request");
        if (x->pullFailed) {
          ApplyStatus(x, kErrBackend, "reading the target's memory failed (process_vm_readv)");
        }
        ReplyDone(x);
      }
      return true;
    }
    case kCmaGrant:
      PullCmaRead(c);
      return true;
    case kShmGrant:
      return OnShmGrant(c);
    case kShmUnmap:
      OnShmUnmap(c);
      return true;
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

// Target: checks a CMA list whole against the region table (under regionMu_,
// held by the caller). The iovecs: this process's side in `local`, the
// peer's in `remote`.
int32_t Engine::CheckCmaList(Conn* c, iovec* local, iovec* remote, size_t* count, uint64_t* total) {
  size_t n = c->pbuf.size() / sizeof(CmaEntry);
  const CmaEntry* e = reinterpret_cast<const CmaEntry*>(c->pbuf.data());
  *count = 0;
  *total = 0;
  for (size_t i = 0; i < n; i++) {
    CmaEntry d;
    std::memcpy(&d, e + i, sizeof(d));
    int32_t s = CheckRegion(d.regionId, d.key, d.targetAddr, d.len);
    if (s != kSuccess) return s;
    if (d.len == 0) continue;
    local[*count] = {reinterpret_cast<void*>(d.targetAddr), d.len};
    remote[*count] = {reinterpret_cast<void*>(d.initiatorAddr), d.len};
    *total += d.len;
    (*count)++;
  }
  return kSuccess;
}

// Target, CMA_WRITE: pulls the initiator's bytes into its own region, after
// checking the whole list, under the region lock (a deregistration waits).
void Engine::ServeCmaWrite(Conn* c) {
  int32_t st;
  {
    iovec local[kMaxCmaEntries];
    iovec remote[kMaxCmaEntries];
    size_t k = 0;
    uint64_t total = 0;
    std::lock_guard<std::mutex> lock(regionMu_);
    st = CheckCmaList(c, local, remote, &k, &total);
    if (st == kSuccess && total > 0 &&
        !copyPool_->Copy(static_cast<pid_t>(c->remotePid), true, local, remote, k, total)) {
      st = kErrBackend;
    }
  }
  if (st != kSuccess) c->NoteRefused(c->cur.xferId, st);
  FrameHeader r = MakeHeader(kAck, 0, c->cur.xferId, 0);
  r.status = st;
  Queue(c, r, nullptr, 0);
}

// Target, CMA_READ and CMA_DONE: checks the list and answers with `reply`.
// For CMA_READ that is the grant of a pull (CMA_GRANT). For CMA_DONE (ACK):
// region ids are never reused, so if every region of the list is still
// registered now, it was throughout the initiator's pull and the bytes it
// read were the region's.
void Engine::AnswerCmaRead(Conn* c, Op reply) {
  int32_t st;
  {
    iovec local[kMaxCmaEntries];
    iovec remote[kMaxCmaEntries];
    size_t k = 0;
    uint64_t total = 0;
    std::lock_guard<std::mutex> lock(regionMu_);
    st = CheckCmaList(c, local, remote, &k, &total);
  }
  if (st != kSuccess) c->NoteRefused(c->cur.xferId, st);
  FrameHeader r = MakeHeader(reply, 0, c->cur.xferId, 0);
  r.status = st;
  Queue(c, r, nullptr, 0);
}

// Initiator, CMA_GRANT: pulls the target's bytes into its own memory (this
// thread, so a closed engine never writes again), then says so (CMA_DONE).
void Engine::PullCmaRead(Conn* c) {
  Conn::PendingCmaRead pending = std::move(c->cmaReads.front());
  c->cmaReads.pop_front();
  Xfer* x = FindXfer(pending.xferId);
  if (!x) return;  // released meanwhile: nothing to pull into
  if (c->cur.status != kSuccess) {
    ApplyStatus(x, c->cur.status, "the target refused a same-host READ");
    ReplyDone(x);
    return;
  }
  if (!PullCmaEntries(c, pending.entries)) {
    // The target unmapped the memory, or its process is exiting: CMA_DONE
    // still goes, and its answer (NOT_FOUND for a deregistered region), or
    // the connection breaking (RemoteDisconnectError), says which.
    x->pullFailed = true;
  }
  QueueOwned(c, MakeHeader(kCmaDone, 0, pending.xferId, pending.entries.size()),
             std::move(pending.entries));
}

// Initiator: copies a CmaEntry list from the target's process (the pid the
// kernel reported for this Unix connection) into this process's memory.
// False when the kernel refused (the target is gone or unmapped a range).
bool Engine::PullCmaEntries(Conn* c, const std::vector<uint8_t>& entries) {
  size_t n = entries.size() / sizeof(CmaEntry);
  iovec local[kMaxCmaEntries];
  iovec remote[kMaxCmaEntries];
  size_t k = 0;
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    CmaEntry d;
    std::memcpy(&d, entries.data() + i * sizeof(CmaEntry), sizeof(d));
    if (d.len == 0) continue;
    local[k] = {reinterpret_cast<void*>(d.initiatorAddr), d.len};
    remote[k] = {reinterpret_cast<void*>(d.targetAddr), d.len};
    total += d.len;
    k++;
  }
  return total == 0 ||
         copyPool_->Copy(static_cast<pid_t>(c->remotePid), true, local, remote, k, total);
}

}  // namespace nixl::tcp
