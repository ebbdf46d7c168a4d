// The initiator side: submitting transfers (local copies, same-host copy
// lists, socket frames), settling them, and notifications.
#include <linux/futex.h>
#include <sys/syscall.h>

#include <climits>
#include <cstdint>
#include <iterator>

#include "tcp/engine_internal.h"

namespace nixl::tcp {

// ---------------------------------------------------------------------------
// Initiator side.

Engine::Xfer* Engine::FindXfer(uint64_t xferId) {
  uint32_t slot = static_cast<uint32_t>(xferId >> 32);
  uint32_t gen = static_cast<uint32_t>(xferId);
  if (slot >= xfers_.size()) return nullptr;
  Xfer* x = xfers_[slot].get();
  if (!x || !x->active || x->gen != gen) return nullptr;
  return x;
}

void Engine::Settle(Xfer* x, int32_t status, const std::string& msg) {
  if (!x->active) return;
  x->active = false;
  settles_++;
  // A small transfer whose caller polls (CallerPollsAnswer): no linger for its
  // next post, which goes out inline and whose answer is left to that caller.
  const bool callerPolls = x->polled && x->peerId != 0 && CallerPollsAnswer(x, PeerOf(x->slot));
  lastSettledPeer_ = callerPolls ? 0 : x->peerId;
  if (x->peerId != 0) {
    auto it = peers_.find(x->peerId);
    if (it != peers_.end() && it->second->inflight > 0) it->second->inflight--;
  }
  StatusSlots::Store(x->statusSlot, status);
  // poll_progress=auto: did this thread run on the poster's CPU?
  if (x->postCpu >= 0 && tOnIoThread && status == kSuccess) {
    regime_.Settled(x->postCpu, sched_getcpu());
  }
  staged_.settled.push_back({x->slot, x->gen, status, status == kSuccess ? "" : msg});
  // Both sequentially consistent, as ParkUntilSettle's: either this sees its
  // parker, or the parker sees the new sequence number and does not sleep.
  settleSeq_.fetch_add(1);
  if (parkers_.load() > 0) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&settleSeq_), FUTEX_WAKE_PRIVATE, INT32_MAX,
            nullptr, nullptr, 0);
  }
}

// Why a polling caller parks (bench/cli/results/2026-12-socket-read-large/):
// a socket transfer of megabytes keeps both I/O threads copying for
// milliseconds, and on a 2-vCPU machine a caller spinning on its status slot
// takes a whole CPU (sched_yield gives nothing away when nothing else is
// queued on its CPU), leaving the two copying threads one CPU to share.
void Engine::ParkUntilSettle(const int32_t* status, int32_t inProgress, uint32_t maxUs) {
  const uint32_t seq = settleSeq_.load();
  parkers_.fetch_add(1);
  if (__atomic_load_n(status, __ATOMIC_ACQUIRE) == inProgress) {
    timespec limit{static_cast<time_t>(maxUs / 1000000), static_cast<long>(maxUs % 1000000) * 1000};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&settleSeq_), FUTEX_WAIT_PRIVATE, seq, &limit,
            nullptr, 0);
  }
  parkers_.fetch_sub(1);
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
    x->notifAfter = false;
    auto it = peers_.find(x->peerId);
    if (it != peers_.end() && it->second->state == Peer::kReady) {
      SendBoundNotif(x, it->second.get());
      if (x->pending > 0) return;  // DONE once the target has it
    }
  }
  Settle(x, x->status, x->err);
}

void Engine::SendNotif(Peer* p, const uint8_t* msg, size_t len, uint64_t xferId, bool ack) {
  Conn* c = p->streams[0];
  if (ack) c->answersDue++;
  QueueOwned(c, MakeHeader(kNotif, ack ? kFlagAckReq : 0, xferId, len),
             std::vector<uint8_t>(msg, msg + len));
}

// The notification bound to `x`. A peer that answers notifications
// (kFlagNotifAck) acknowledges it once its JavaScript has it: the transfer
// waits for that ACK too, so DONE here means the target holds the
// notification (getNotifs returns it). An older peer does not answer: DONE
// then means the notification is on its way.
void Engine::SendBoundNotif(Xfer* x, Peer* p) {
  SendNotif(p, x->notif.data(), x->notif.size(), x->Id(), p->notifAck);
  if (p->notifAck) x->pending++;
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
  if (SubmitShm(x, p)) return;
  AskShmMaps(x, p);  // lazily: this transfer takes today's path
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
  for (uint32_t t : p->tokens) staged_.events.push_back({CompletionBatch::kConnected, t, 0, ""});
  p->tokens.clear();
  std::vector<Xfer*> waiting;
  waiting.swap(p->waiting);
  for (Xfer* x : waiting) {
    x->waiting = false;
    AskShmMaps(x, p);
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
    if (op == kCmaRead) {
      // The initiator pulls at once into its own memory, then says what it
      // pulled (CMA_DONE); the target's ACK says whether every region was
      // registered then, hence throughout the pull (region ids are never
      // reused): one round trip, where asking first (CMA_READ, CMA_GRANT)
      // took two. A failed pull still sends CMA_DONE, whose answer (or the
      // connection breaking) says why.
      if (!PullCmaEntries(c, entries)) x->pullFailed = true;
      QueueOwned(c, MakeHeader(kCmaDone, 0, x->Id(), entries.size()), std::move(entries));
    } else {
      QueueOwned(c, MakeHeader(op, 0, x->Id(), entries.size()), std::move(entries));
    }
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
  // A WRITE's data is in the target's memory once it served the frames, so
  // the notification follows them. A READ's data is here once this side
  // pulled it (above): a peer that answers notifications gets it now, after
  // the CMA_DONEs (it drops it if it refused one of them); an older peer
  // after the last ACK (ReplyDone). A failed pull sends none.
  if (x->hasNotif) {
    if (op == kCmaWrite || (p->notifAck && !x->pullFailed)) {
      SendBoundNotif(x, p);
    } else if (!p->notifAck) {
      x->notifAfter = true;
    }
  }
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
  // Each stream's last WRITE frame, by its position in txq (a pointer would
  // not survive the queue growing); SIZE_MAX: none.
  size_t last[64];
  std::fill(std::begin(last), std::end(last), SIZE_MAX);
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
        last[s] = c->txq.size() - 1;
      } else {
        Queue(c, h, nullptr, 0);
        c->reads.push_back({id, d.laddr + off, piece});
        x->pending++;
      }
      off += piece;
      if (nstreams > 1 && piece >= pieceMax) s = (s + 1) % nstreams;
    } while (off < d.len);
  }
  // A WRITE on one stream keeps order (the target handles its frames in
  // sequence), so its notification follows the data there; over several
  // streams the notification waits until every stream has answered. A
  // READ's notification always waits for the data: the target sends
  // READ_DATA from its region lazily, so a notification that overtook it
  // could let the target reuse memory still being read.
  bool notifInline = x->hasNotif && x->op == XferOp::kWrite;
  for (size_t i = 1; i < nstreams; i++) notifInline = notifInline && last[i] == SIZE_MAX;
  if (x->op == XferOp::kWrite) {
    for (size_t i = 0; i < nstreams; i++) {
      // Stream 0's last WRITE needs no ACK of its own when the notification
      // that follows it is acknowledged: that ACK comes after it, in order
      // (an ERR before it if the target refused a frame).
      if (last[i] != SIZE_MAX && !(i == 0 && notifInline && p->notifAck)) {
        p->streams[i]->txq[last[i]].hdr.flags |= kFlagAckReq;
        p->streams[i]->answersDue++;
        x->pending++;
      }
    }
  }
  if (x->hasNotif) {
    if (notifInline || x->pending == 0) {
      SendBoundNotif(x, p);
    } else {
      x->notifAfter = true;
    }
  }
  if (x->pending == 0) Settle(x, kSuccess, "");
}

}  // namespace nixl::tcp
