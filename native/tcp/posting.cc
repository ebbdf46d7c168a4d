// Commands from JavaScript: peers, prepared transfers, posts, releases and
// notifications, queued for the I/O thread or run inline on the posting
// thread when it is idle (small posts, busy_poll_us).
#include "tcp/engine_internal.h"

namespace nixl::tcp {

// ---------------------------------------------------------------------------
// Commands from JavaScript.

void Engine::PushCmd(Cmd&& c, bool wake) {
  {
    std::lock_guard<std::mutex> lock(cmdMu_);
    cmds_->push_back(std::move(c));
  }
  cmdPending_.store(true);
  if (wake && sleeping_.load()) {
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
  // Loading a peer's metadata connects nothing (the first transfer or
  // notification does, with a command that wakes the thread, after this one
  // in the queue), and an inbound connection under this name waits for this
  // command (Run drains the queue before it reads any event): the write to
  // the eventfd and the wake-up it causes are saved. A discovery member loads
  // every other member once; in a 128-agent start, 127 wake-ups per agent.
  PushCmd(std::move(c), /*wake=*/false);
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

void Engine::Prep(uint32_t slot, int32_t* status, XferOp op, uint32_t peerId,
                  std::vector<XferDesc> descs) {
  auto x = std::make_unique<Xfer>();
  x->slot = slot;
  x->statusSlot = status;
  x->op = op;
  x->peerId = peerId;
  x->descs = std::move(descs);
  Cmd c;
  c.kind = Cmd::kPrep;
  c.a = slot;
  c.xfer = std::move(x);
  PushCmd(std::move(c));
}

RegimeSaid Engine::Post(uint32_t slot, uint32_t gen, const uint8_t* notif, size_t notifLen,
                        bool hasNotif) {
  Cmd c;
  if (cfg_.pollAuto) {
    c.cpu = sched_getcpu();
    c.callerReads = regime_.LeaveToCaller();
    c.sharedCpu = c.callerReads || regime_.Shared();
  }
  c.kind = Cmd::kPost;
  c.a = slot;
  c.b = gen;
  c.flag = hasNotif;
  if (hasNotif) c.bytes.assign(notif, notif + notifLen);
  const RegimeSaid said = c.callerReads ? RegimeSaid::kCallerReads
                          : c.sharedCpu ? RegimeSaid::kProbe
                                        : RegimeSaid::kOff;
  if (!TryRunInline(c)) PushCmd(std::move(c));
  return said;
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
  NoteOutsideCommand();  // its timeout is watched
  Peer* peer = PeerOf(c.a);
  // Shared memory: one memcpy here and the status slot says DONE; no system
  // call and no answer to poll for. With a notification the peer
  // acknowledges, the copy is made here too, but DONE waits for that ACK:
  // it is read like any other answer (below).
  uint64_t shmBytes = 0;
  const bool shm = peer && !(c.flag && peer->notifAck) &&
                   ShmReady(xfers_[c.a].get(), peer, &shmBytes) &&
                   shmBytes <= cfg_.shmInlineMaxBytes;
  Peer* polled = !shm && cfg_.busyPollUs > 0 ? peer : nullptr;
  if (polled) SetQuiet(polled, true);  // before sending: the answer may come at once
  Peer* poller = shm || polled ? nullptr : peer;
  // Who reads this post's answer. Under poll_progress=auto (poll_send's
  // WRITEs aside): the regime's verdict for a small socket transfer (Post's
  // answer, which tcp-backend.ts reaches too); where the regime is off or
  // does not decide, a small transfer whose caller was seen polling its
  // previous post (CallerPollsAnswer). Otherwise: a caller seen polling this
  // transfer's previous post (Progress).
  if (poller && cfg_.pollAuto && !PollSends(xfers_[c.a].get(), peer)) {
    const Xfer* x = xfers_[c.a].get();
    const bool leaves =
        c.sharedCpu && SamplesRegime(x) ? c.callerReads : CallerPollsAnswer(x, peer) && x->polled;
    if (!leaves) poller = nullptr;
  } else if (poller && !xfers_[c.a]->polled) {
    poller = nullptr;
  }
  if (poller) SetQuiet(poller, true);  // (a no-op while it stays masked between posts)
  // A WRITE this thread sends (pollSend): a bounded share now, the rest by
  // its polls, or by the I/O thread if its caller does not poll.
  const bool sends = !shm && peer && PollSends(xfers_[c.a].get(), peer);
  inlineRun_ = true;
  ExecCmd(c);
  inlineRun_ = false;
  FlushDirty(sends ? kPollSendChunk : UINT64_MAX);
  if (poller && !LeaveToPoller(c.a, poller)) Unquiet(poller);
  if (poller && poller->quietSinceNs != 0) xfers_[c.a]->leftToPoller = true;
  // A peer still masked after an earlier request that was left to a poller:
  // this post's answer is the I/O thread's, so it watches the peer again.
  if (!poller && !polled && !shm && peer && peer->quietSinceNs != 0) Unquiet(peer);
  if (polled) {
    PollForCompletion(c.a, c.b);
    // With nothing else in flight to this peer its connections stay masked:
    // the next busy post would mask them again, and each change costs a
    // system call per stream. The I/O thread unmasks them once it needs them
    // (a queued post or notification, or CheckTimeouts after kQuietWatchNs).
    // An answer that did not come inside the window is left to the caller's
    // status reads (Progress) rather than handed to the I/O thread: a third
    // thread woken on 2 vCPUs queues behind the two that spin (perf sched,
    // bench/cli/results/2026-12-busy-poll-yield.md). No watch timer: re-armed
    // while posts go on, it woke the I/O thread every few transfers, only for
    // it to block on ioMu_ behind the poster (strace). A caller that goes on
    // to wait() says so (StopPolling); one that neither polls nor waits gets
    // its answer when CheckTimeouts unmasks the peer (kQuietWatchNs).
    const Xfer* x = xfers_[c.a].get();
    const bool leave =
        x && x->active && x->gen == c.b && polled->state == Peer::kReady && !HasUnsent(polled);
    if (leave || (polled->state == Peer::kReady && polled->inflight == 0 && !HasUnsent(polled))) {
      polled->quietSinceNs = NowNs();
    } else {
      Unquiet(polled);
    }
  }
  // A post that completed here answers SUCCESS to its caller, which settles
  // it: no completion batch, so no wake-up of the JavaScript thread for it.
  auto& done = staged_.settled;
  if (!done.empty() && done.back().slot == c.a && done.back().gen == c.b &&
      done.back().status == kSuccess) {
    done.pop_back();
  }
  Publish();
  return true;
}

// getXferStatus of a transfer still in progress: the polling thread reads its
// peer's connections itself (one recv each, non-blocking), so an answer that
// is already there completes the transfer now, instead of after the I/O
// thread was woken and scheduled (on a VM, waking an idle vCPU costs about
// as much as the loopback round trip). NIXL's UCX backend progresses its
// worker inside checkXfer the same way. Never waits: it gives way when the
// I/O thread holds the engine or is about to take it (ioWanted_), so a
// caller polling in a loop cannot keep the I/O thread from serving peers.
bool Engine::Progress(uint32_t slot, uint32_t gen) {
  if (!started_ || stop_.load(std::memory_order_relaxed)) return false;
  if (ioWanted_.load(std::memory_order_relaxed)) return false;
  std::unique_lock<std::mutex> io(ioMu_, std::try_to_lock);
  if (!io.owns_lock()) return false;
  Xfer* x = slot < xfers_.size() ? xfers_[slot].get() : nullptr;
  Peer* p = x && x->active && x->gen == gen ? PeerOf(slot) : nullptr;
  if (!p || p->state != Peer::kReady) return false;
  // Only socket READ answers that one recv takes whole (kPollAnswerMaxBytes):
  // a larger one is the I/O thread's, received straight into place. Polled,
  // a 64 KiB answer (two loopback segments) came in pieces across polls in
  // 29 % of READs; 32 KiB answers came whole (bench/cli/results/
  // 2026-12-socket-read-32k/).
  const uint64_t total = TotalBytes(x);
  // With busy_poll_us the caller reads every answer (PollForCompletion
  // already received this one's start on this thread).
  if (x->op == XferOp::kRead && !UsesCma(p, total) && total > kPollAnswerMaxBytes &&
      cfg_.busyPollUs == 0) {
    io.unlock();
    sched_yield();  // the I/O thread that receives it may be queued on this CPU
    return false;
  }
  x->polls++;
  // A small transfer's caller seen polling it twice polls: its next post is
  // left to it even where the I/O thread, woken by this answer too, reads this
  // one (CallerPollsAnswer); else that race, lost once, kept the answers with
  // the I/O thread (its linger then sends the next post itself, Settle).
  if (x->polls > 1 && CallerPollsAnswer(x, p)) x->polled = true;
  const uint64_t progressBefore = p->lastProgressNs;
  // This caller is still here: a masked peer stays left to it (OnPollWatch).
  if (p->quietSinceNs != 0) p->quietSinceNs = NowNs();
  // A WRITE's payload not sent yet (pollSend, or what the socket did not take
  // of a post left to this caller): the next bounded share goes from this
  // thread, so the transfer needs no third thread on 2 cores.
  const bool sends = PollSends(x, p);
  if (sends || (x->leftToPoller && HasUnsent(p))) {
    // Polled twice: its caller polls, so its next post is left to it whole
    // (TryRunInline masks the peer's connections for the I/O thread).
    if (x->polls > 1) x->polled = true;
    for (size_t i = 0; i < p->streams.size(); i++) {
      Conn* c = p->streams[i];
      if (c->state != Conn::kReady || c->txq.empty()) continue;
      if (!Flush(c, kPollSendChunk)) {
        CloseConn(c, "send failed: connection broken");
        Publish();
        return false;  // the peer's streams changed under us
      }
      UpdateInterest(c);
    }
  }
  // A transfer too small to be striped uses stream 0 alone (SubmitSocket,
  // SubmitCma): one recv per poll, not one per stream.
  size_t streams = total < cfg_.stripeMinBytes ? 1 : p->streams.size();
  for (size_t i = 0; i < streams && i < p->streams.size(); i++) {
    Conn* c = p->streams[i];
    if (c->state != Conn::kReady) continue;
    if (!HandleReadable(c)) {
      CloseConn(c, "connection closed by the peer");
      break;  // the peer's streams changed under us
    }
  }
  FlushDirty();  // answers to what was read (CMA_DONE), a notification sent after a READ
  // As in TryRunInline: a transfer that succeeded here is settled by the
  // caller, so it sends no completion batch (and wakes no JavaScript).
  bool settledHere = false;
  auto& done = staged_.settled;
  for (size_t i = done.size(); i-- > 0;) {
    if (done[i].slot == slot && done[i].gen == gen) {
      if (done[i].status == kSuccess) {
        done.erase(done.begin() + static_cast<ptrdiff_t>(i));
        settledHere = true;
        // Its caller came back to poll, and was polling when the answer came
        // (one look, then an await, is not polling); or the post was left to
        // it and it completed it: the caller keeps its peer until it stops
        // polling (StopPolling), with no epoll_ctl or hand-back per post.
        x->polled = x->polls > 1 || x->leftToPoller;
      }
      break;
    }
  }
  Publish();
  // The caller spins on its status reads; one that read nothing lets a thread
  // queued on its CPU run first: the target's, woken onto this CPU by the
  // request (a socket wake-up is a sync wake-up). Pinned to one vCPU, 4 KiB
  // polled transfers took 2-3x as long without this yield
  // (bench/cli/results/2026-12-lean-poll/). Not while it sends a large WRITE
  // (pollSend): yielding there was measured slower (2026-12-socket-write-512k).
  if (!settledHere && !sends && p->lastProgressNs == progressBefore) {
    const bool sample = cfg_.pollAuto && SamplesRegime(x);
    io.unlock();
    if (sample) {
      regime_.Yield();  // timed: poll_progress=auto's signal
    } else {
      sched_yield();
    }
  }
  return settledHere;
}

// The posts whose answers poll_progress=auto may leave to their caller
// (tcp-backend.ts, AUTO_READS_MAX_BYTES): small ones on the socket path.
bool Engine::SamplesRegime(const Xfer* x) {
  const Peer* p = PeerOf(x->slot);
  if (!p || p->sameHost) return false;
  uint64_t bytes = 0;
  for (const XferDesc& d : x->descs) {
    bytes += d.len;
    if (bytes > kRegimeMaxBytes) return false;
  }
  return true;
}

// poll_progress=auto, where the regime is off or does not decide (above
// kRegimeMaxBytes): a small socket transfer is polled for by its caller all the same
// (tcp-backend.ts decides the same). A WRITE of one descriptor, up to
// inline_write_max_bytes: its post went out inline from the caller's thread,
// which then spins on the answer, a small ACK; handed to the I/O thread, the
// ACK cost one more thread hop (bench/cli/results/2026-12-socket-write-polled/).
// A READ of up to kPollAnswerMaxBytes, whose answer one poll's recv takes:
// left to the I/O thread, it slept in epoll and was woken by every answer,
// then lingered to send the next post (bench/cli/results/2026-12-socket-read-4k/,
// 2026-12-socket-read-32k/).
// As with poll_progress=on, only a caller seen polling the previous post is
// left the answer (TryRunInline): an awaiting caller's is read by the I/O thread.
bool Engine::CallerPollsAnswer(const Xfer* x, const Peer* p) const {
  if (!cfg_.pollAuto || !p || p->sameHost || PollSends(x, p)) return false;
  if (x->op == XferOp::kRead) return TotalBytes(x) <= kPollAnswerMaxBytes;
  return x->descs.size() == 1 && x->descs[0].len <= cfg_.inlineWriteMaxBytes;
}

// A caller that polled the previous post of this transfer (Progress) will
// most likely poll this one too: its answer is left to that caller, so the
// I/O thread is not woken for it (a wake-up of a sleeping thread, and that
// thread then waiting for ioMu_, cost more than the poll's recv). The peer's
// connections stay masked while posts go on like this: one epoll_ctl per
// stream when the caller takes the peer, none per post. What the socket did
// not take of a WRITE is sent by the caller's polls too (Progress).
// Handing back: a caller that stops polling through wait() says so
// (StopPolling); one that stops otherwise leaves an answer to CheckTimeouts,
// which unmasks a peer not polled for kQuietWatchNs. Only a payload left to
// send arms the watch timer (kPollWatchNs): re-armed while posts went on, it
// woke the I/O thread every few transfers, only for it to block on ioMu_
// behind the poller (bench/cli/results/2026-12-lean-poll/).
bool Engine::LeaveToPoller(uint32_t slot, Peer* p) {
  const Xfer* x = xfers_[slot].get();
  if (pollWatchFd_ < 0 || p->state != Peer::kReady) return false;
  p->quietSinceNs = NowNs();
  if (x->active && HasUnsent(p) && !pollWatchArmed_) ArmPollWatch(kPollWatchNs);
  return true;
}

void Engine::ArmPollWatch(uint64_t ns) {
  itimerspec t{};
  t.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  t.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  pollWatchArmed_ = timerfd_settime(pollWatchFd_, 0, &t, nullptr) == 0;
}

// The watch timer fired: a peer left to a polling caller with a payload still
// to send, that no poll moved for kPollWatchNs, is served by the I/O thread
// from now on. Later posts get the rest of their time. (An answer alone
// waits for the caller's polls, StopPolling or CheckTimeouts: LeaveToPoller.)
void Engine::OnPollWatch() {
  uint64_t expirations;
  ssize_t ignored = read(pollWatchFd_, &expirations, sizeof(expirations));
  (void)ignored;
  pollWatchArmed_ = false;
  uint64_t now = NowNs();
  uint64_t next = 0;
  for (auto& [id, pp] : peers_) {
    Peer* p = pp.get();
    if (p->quietSinceNs == 0 || p->inflight == 0 || !HasUnsent(p)) continue;
    uint64_t waited = now - p->quietSinceNs;
    if (waited >= kPollWatchNs) {
      Unquiet(p);
    } else if (next == 0 || kPollWatchNs - waited < next) {
      next = kPollWatchNs - waited;
    }
  }
  if (next != 0) ArmPollWatch(next);
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
  const Xfer* x = slot < xfers_.size() ? xfers_[slot].get() : nullptr;
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
  // A transfer too small to be striped uses stream 0 alone (SubmitSocket):
  // one recv per look, as the spinning C loop does, not one per stream.
  const size_t streams = TotalBytes(x) < cfg_.stripeMinBytes ? 1 : p->streams.size();
  uint64_t lastYieldNs = 0;
  while (x->active && x->gen == gen && p->state == Peer::kReady) {
    const uint64_t progressBefore = p->lastProgressNs;
    for (size_t i = 0; i < streams && i < p->streams.size(); i++) {
      Conn* c = p->streams[i];
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
    // Nothing came: the thread that will answer may be queued on this CPU
    // (a socket wake-up places the woken thread on the waker's CPU), and a
    // spin that does not yield holds it off until the window ends. Once per
    // kSpinYieldNs: a yield on every look doubled the look's cost (a system
    // call), and so the delay between an answer's arrival and its reading.
    if (p->lastProgressNs == progressBefore) YieldNowAndThen(&lastYieldNs);
  }
}

void Engine::YieldNowAndThen(uint64_t* lastYieldNs) {
  const uint64_t now = NowNs();
  if (now - *lastYieldNs < kSpinYieldNs) return;
  sched_yield();
  *lastYieldNs = NowNs();
}

// pollSend: a socket WRITE large enough that handing it to the I/O thread
// costs a third busy thread (poster spinning, I/O thread sending, target
// receiving) on a machine with two cores.
bool Engine::PollSends(const Xfer* x, const Peer* p) const {
  if (!cfg_.pollSend || cfg_.busyPollUs > 0 || x->op != XferOp::kWrite) return false;
  uint64_t bytes = TotalBytes(x);
  return bytes >= cfg_.pollSendMinBytes && !UsesCma(p, bytes);
}

bool Engine::InlineEligible(const Cmd& c) {
  if (c.kind != Cmd::kPost || c.a >= xfers_.size()) return false;
  const Xfer* x = xfers_[c.a].get();
  if (!x || x->active) return false;
  uint64_t bytes = TotalBytes(x);
  if (x->peerId == 0) return bytes <= kInlineMaxBytes;  // a local copy
  const Peer* p = PeerOf(c.a);
  if (!p || p->state != Peer::kReady) return false;
  // Shared memory: one memcpy on this thread; a large one on the I/O thread.
  if (uint64_t shmBytes = 0; ShmReady(x, p, &shmBytes)) return shmBytes <= cfg_.shmInlineMaxBytes;
  // Same-host requests and socket READs send descriptors only; a socket WRITE
  // sends its payload, so only small ones, and only onto an idle connection.
  // A same-host READ is pulled by the poster (SubmitCma): only small ones.
  if (UsesCma(p, bytes) && x->op == XferOp::kRead && bytes > kInlineMaxBytes) return false;
  if (UsesCma(p, bytes) || x->op == XferOp::kRead) return x->descs.size() <= kInlineMaxDescs;
  // With busy_poll_us the caller has offered that long of its thread: it also
  // sends a WRITE whose payload the socket moves within the window.
  // With pollSend (and no busy_poll_us) any size: the post sends a bounded
  // share (kPollSendChunk), its polls the rest.
  uint64_t maxBytes = std::max(cfg_.inlineWriteMaxBytes, cfg_.busyPollUs * kInlineBytesPerUs);
  if (bytes > maxBytes && !PollSends(x, p)) return false;
  for (const Conn* s : p->streams) {
    if (!s->txq.empty()) return false;
  }
  return true;
}

void Engine::Release(uint32_t slot, int32_t* status) {
  Cmd c;
  c.kind = Cmd::kRelease;
  c.a = slot;
  c.statusSlot = status;
  PushCmd(std::move(c));
}

void Engine::StopPolling(uint32_t slot, uint32_t gen) {
  Cmd c;
  c.kind = Cmd::kStopPolling;
  c.a = slot;
  c.b = gen;
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
  NoteOutsideCommand();  // a command may start a connect or a transfer
  DrainCommands();
  FlushDirty();
  Publish();
}

bool Engine::DrainCommands() {
  {
    std::lock_guard<std::mutex> lock(cmdMu_);
    std::swap(cmds_, cmdsSpare_);
  }
  bool watch = false;
  for (Cmd& c : *cmdsSpare_) {
    watch = watch || c.kind != Cmd::kAddPeer;
    ExecCmd(c);
  }
  cmdsSpare_->clear();
  return watch;
}

void Engine::ExecCmd(Cmd& c) {
  switch (c.kind) {
    case Cmd::kAddPeer: {
      uint32_t id = c.peer->id;
      BindNameFromMetadata(c.peer->name, c.peer->publicKey);
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
        staged_.events.push_back({CompletionBatch::kConnectFailed, c.b, kErrRemoteDisconnect,
                                  "peer is not reachable (its connection failed)"});
        break;
      }
      if (p->state == Peer::kReady) {
        staged_.events.push_back({CompletionBatch::kConnected, c.b, 0, ""});
        break;
      }
      p->tokens.push_back(c.b);
      if (p->state == Peer::kIdle) StartPeerConnect(p);
      break;
    }
    case Cmd::kPrep:
      // The slot table grows on the JavaScript thread; this one follows it.
      if (c.a >= xfers_.size()) xfers_.resize(std::max<size_t>(c.a + 1, xfers_.size() * 2));
      xfers_[c.a] = std::move(c.xfer);
      break;
    case Cmd::kPost: {
      Xfer* x = c.a < xfers_.size() ? xfers_[c.a].get() : nullptr;
      if (!x || x->active) break;
      if (!inlineRun_) {
        // This thread will read the answers: watch the connections again.
        if (Peer* p = PeerOf(c.a); p && p->quietSinceNs != 0) Unquiet(p);
      }
      x->polled = false;
      x->leftToPoller = false;
      x->polls = 0;
      x->postCpu = c.cpu >= 0 && SamplesRegime(x) ? c.cpu : -1;
      x->gen = c.b;
      x->active = true;
      x->pending = 0;
      x->status = 0;
      x->err.clear();
      x->hasNotif = c.flag;
      x->notifAfter = false;
      x->pullFailed = false;
      x->notif = std::move(c.bytes);
      StatusSlots::Store(x->statusSlot, kInProg);
      Submit(x);
      break;
    }
    case Cmd::kRelease: {
      Xfer* x = c.a < xfers_.size() ? xfers_[c.a].get() : nullptr;
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
      if (x) xfers_[c.a].reset();
      // After this nothing of the released request writes the slot: it may
      // be handed to the next request (see common/status_slots.h).
      if (c.statusSlot) StatusSlots::Store(c.statusSlot, kSlotFree);
      break;
    }
    case Cmd::kStopPolling: {
      Xfer* x = c.a < xfers_.size() ? xfers_[c.a].get() : nullptr;
      if (!x || x->gen != c.b) break;
      x->polled = false;
      if (Peer* p = x->active ? PeerOf(c.a) : nullptr; p && p->quietSinceNs != 0) Unquiet(p);
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

}  // namespace nixl::tcp
