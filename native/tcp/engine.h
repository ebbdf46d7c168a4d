// The TCP data-plane engine: one epoll I/O thread per backend instance that
// serves READ/WRITE requests targeting this agent straight from/to registered
// memory, and drives the transfers this agent initiates. JavaScript talks to
// it through a command queue (never blocking) and reads transfer status from a
// shared Int32Array of slots; results come back in batches (one wake-up each).
#pragma once
#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/completion_batch.h"
#include "tcp/shared_cpu_regime.h"
#include "tcp/vm_copy.h"
#include "tcp/wire.h"

namespace nixl::tcp {

struct EngineConfig {
  std::string bindAddr = "127.0.0.1";
  int port = 0;
  int streams = 2;
  bool sameHost = true;
  uint64_t timeoutMs = 10000;
  uint64_t connectTimeoutMs = 5000;
  uint64_t busyPollUs = 0;
  // After its I/O thread completes a transfer with nothing else in flight to
  // that peer, it waits this long for the caller's next post and sends it
  // itself (see Engine::Linger). 0: never.
  uint64_t lingerUs = 20;
  // poll_progress=auto: a caller that polls reads its own answers while it
  // shares its CPU with the engine's threads (SharedCpuRegime), else the I/O
  // thread reads them. (poll_progress=on/off is decided in JavaScript.)
  bool pollAuto = true;
  // A socket WRITE of pollSendMinBytes or more is sent by the threads that
  // post and poll it (see Engine::Progress), not handed to the I/O thread.
  bool pollSend = false;
  uint64_t pollSendMinBytes = 4ull << 20;
  // A socket WRITE of up to this many bytes posted onto an idle connection is
  // sent by the posting thread (what the socket takes; the I/O thread sends
  // the rest), instead of being handed to the I/O thread.
  uint64_t inlineWriteMaxBytes = 64 << 10;
  uint64_t stripeMinBytes = 4ull << 20;
  // TCP congestion control of this engine's TCP connections (the side that
  // sends a payload decides how it is paced): "auto" (reno on loopback, the
  // system default elsewhere), "system", or an algorithm's name.
  std::string tcpCongestion = "auto";
  unsigned copyThreads = 2;  // threads for one large same-host copy
  std::string name;
  // The agent's identity key (Ed25519 private seed): the handshake binds the
  // agent's name to it, in both directions.
  uint8_t identitySeed[32] = {};
  // Abstract Unix socket name for peers on this host ("" without same_host):
  // the kernel vouches for the pid at its other end (SO_PEERCRED).
  std::string unixName;
  // Same-host shared memory (shared_mem.cc): memory allocated by AllocShared
  // may be mapped by a verified same-host peer; transfers into it of up to
  // shmMaxBytes are then one memcpy on the posting thread.
  bool shm = true;
  uint64_t shmUnmapTimeoutMs = 1000;
  uint64_t shmMaxBytes = 256ull << 20;
  // Copies up to this size run on the posting thread; larger ones on the I/O
  // thread, split across copy_threads (a hand-off, no round trip).
  uint64_t shmInlineMaxBytes = 4ull << 20;
};

// Memory a same-host peer may map: a memfd mapped MAP_SHARED at `addr`. Owned
// by the JavaScript Buffer over it (and held by the engine's table weakly);
// unmapped when the last owner lets go, also after the engine is gone.
struct SharedAlloc {
  uint8_t* addr = nullptr;
  uint64_t bytes = 0;   // what was asked for: a region must cover exactly this
  uint64_t mapLen = 0;  // bytes rounded up to pages
  int fd = -1;          // -1 once private (see Engine::Privatize)
  SharedAlloc() = default;
  SharedAlloc(const SharedAlloc&) = delete;
  SharedAlloc& operator=(const SharedAlloc&) = delete;
  ~SharedAlloc();
};

// What the shared-memory path did, for tests and the benchmark's path column.
struct ShmCounters {
  uint64_t copies = 0;      // posts served by a memcpy into/out of a peer's mapping
  uint64_t maps = 0;        // peer regions this engine mapped
  uint64_t pullGrants = 0;  // peer regions this engine may pull from (READ, no mapping)
  uint64_t grants = 0;      // regions this engine granted to a peer (mapping or pull)
  uint64_t refused = 0;     // map requests this engine refused
  uint64_t dropped = 0;     // peers dropped for not unmapping in time
  uint64_t privatized = 0;  // allocations whose view was made private
};

// What the I/O thread's lingering did (Engine::Linger), for tests.
struct LingerCounters {
  uint64_t hits = 0;    // posts that arrived while it lingered, sent by it
  uint64_t misses = 0;  // lingers that ended without a post
};

// A descriptor of a prepared transfer: local address, remote (or own) region.
struct XferDesc {
  uint64_t laddr;
  uint64_t raddr;
  uint64_t len;
  uint64_t key;
  uint32_t regionId;
};

enum class XferOp { kWrite, kRead };

// What poll_progress=auto's shared-CPU regime said for a post (Engine::Post;
// the same numbers in native-engine.ts): off (or not auto); on, and the
// caller's polls read the answer of a transfer it decides for (SamplesRegime);
// on, and this post is a probe, read by the I/O thread. The transfers it does
// not decide for: Engine::CallerPollsAnswer.
enum class RegimeSaid : int { kOff = 0, kCallerReads = 1, kProbe = 2 };

class Engine {
 public:
  // `wake` is called from the I/O thread when a completion batch starts (see
  // CompletionQueue); `onExit` is the I/O thread's last call (after its last `wake`).
  Engine(EngineConfig cfg, std::function<void()> wake, std::function<void()> onExit = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Binds and listens (throws std::runtime_error), then starts the I/O thread.
  void Start();
  // Tells the I/O thread to stop and returns at once (no join).
  void RequestStop();
  // Waits for the I/O thread to end and closes every socket. Idempotent.
  void Join();
  void Stop() {
    RequestStop();
    Join();
  }
  // Revokes every region: when it returns the I/O thread touches none of them
  // (it waits for a copy in progress at most, never for the network).
  void RevokeAllRegions();

  int port() const { return port_; }
  const uint8_t* secret() const { return secret_; }
  const uint8_t* publicKey() const { return publicKey_; }

  // Region table (JavaScript thread, synchronous, locked against the I/O thread).
  // Returns the region id; *key receives its random key.
  uint32_t RegisterRegion(uint64_t addr, uint64_t len, uint64_t* key);
  // Revokes at once: when it returns, the I/O thread no longer touches the
  // region. A region granted to same-host peers (shared memory) also waits
  // for them to unmap it, shmUnmapTimeoutMs at most; a peer that did not is
  // dropped and this process's view of the memory made private.
  bool DeregisterRegion(uint32_t regionId);

  // Commands (JavaScript thread, never block on the network).
  // `publicKey`: the peer's identity key from its metadata; `unixName`: its
  // same-host socket (used when sameHost and reachable, else TCP).
  uint32_t AddPeer(const std::string& name, const std::string& host, int port,
                   const uint8_t secret[32], const uint8_t publicKey[32], bool sameHost,
                   const std::string& unixName);
  void RemovePeer(uint32_t peerId);
  void Connect(uint32_t peerId, uint32_t token);
  // A transfer is known by its status slot's number; `status` is where that
  // slot lives (common/status_slots.h). peerId 0 means this agent itself
  // (local copies).
  void Prep(uint32_t slot, int32_t* status, XferOp op, uint32_t peerId,
            std::vector<XferDesc> descs);
  // What poll_progress=auto's regime said for this post (kOff when not
  // auto): see RegimeSaid.
  RegimeSaid Post(uint32_t slot, uint32_t gen, const uint8_t* notif, size_t notifLen,
                  bool hasNotif);
  // The caller polls a transfer in progress: reads its peer's connections on
  // this thread if the engine is free, never waiting. True when the post
  // `gen` of `slot` succeeded inside this call: it then has no batch entry,
  // the caller settles it.
  bool Progress(uint32_t slot, uint32_t gen);
  // sched_yield of a caller that polls a transfer in flight without reading
  // its answer: timed, poll_progress=auto's signal (SharedCpuRegime).
  void YieldCpu() { regime_.Yield(); }
  RegimeCounters regimeCounters() const { return regime_.Counters(); }
  // The caller stopped polling the post `gen` of `slot` before it completed:
  // the I/O thread reads its answer (no wait for the poll watch timer), and
  // the next post of the slot is not left to a poller.
  void StopPolling(uint32_t slot, uint32_t gen);
  // The caller polls a large transfer in flight (JavaScript thread): it sleeps
  // until the engine settles any transfer or `maxUs` passed, instead of
  // spinning on a CPU the engine's threads need (see initiating.cc). Returns
  // at once if `status` no longer reads `inProgress`.
  void ParkUntilSettle(const int32_t* status, int32_t inProgress, uint32_t maxUs);
  // Writes kSlotFree into `status` once the I/O thread let go of the transfer.
  void Release(uint32_t slot, int32_t* status);
  void GenNotif(uint32_t peerId, const uint8_t* msg, size_t len);
  // Runs the queued commands on the calling thread now, waiting for the I/O
  // thread's current round at most (so queued releases free their slots).
  void RunQueuedCommands();

  // Takes the pending batch (JavaScript thread).
  void TakeBatch(CompletionBatch* out) { out_.Take(out); }
  // Waits for the I/O thread's current round at most (JavaScript thread): a
  // transfer whose slot reads settled is then in the pending batch, since a
  // round settles and publishes under the same lock.
  void AwaitPublished();

  struct Conn;
  struct Peer;
  struct Xfer;
  // A connection a region was granted on (shared memory): it must unmap it
  // before the region's deregistration returns.
  struct Grant {
    uint64_t connId;
    uint32_t pid;  // the peer's, from SO_PEERCRED
    bool mapped;   // it holds the memfd; else it may only pull (READ) the region
  };
  struct Region {
    uint64_t addr;
    uint64_t len;
    uint64_t key;
    std::vector<Grant> grants;
  };

  // Memory from a memfd (zeroed) that same-host peers may map once a region
  // covers all of it. Throws std::runtime_error.
  std::shared_ptr<SharedAlloc> AllocShared(uint64_t bytes);
  ShmCounters shmCounters();
  LingerCounters lingerCounters() const {
    return {lingerHits_.load(std::memory_order_relaxed),
            lingerMisses_.load(std::memory_order_relaxed)};
  }
  struct Cmd;

 private:
  void Run();
  // `wake`: false for a command nothing waits on (a new peer): queued without
  // waking a sleeping I/O thread, it runs on that thread's next round (the next
  // command that wakes it, a connection's event, or its tick).
  void PushCmd(Cmd&& c, bool wake = true);
  bool TryRunInline(Cmd& c);
  bool InlineEligible(const Cmd& c);
  void PollForCompletion(uint32_t slot, uint32_t gen);
  // busy_poll_us: a spinning thread's look found nothing; it yields its CPU
  // if it has not for kSpinYieldNs.
  static void YieldNowAndThen(uint64_t* lastYieldNs);
  enum class Look { kNothing, kServed, kNeedsEpoll };
  Look LookOnServed(Conn* c);
  Peer* PeerOf(uint32_t slot);
  void SetQuiet(Peer* p, bool quiet);
  void Unquiet(Peer* p);
  bool LeaveToPoller(uint32_t slot, Peer* p);
  void OnPollWatch();
  void ArmPollWatch(uint64_t ns);
  static bool HasUnsent(const Peer* p);
  static uint64_t TotalBytes(const Xfer* x);
  static bool UsesCma(const Peer* p, uint64_t bytes);
  void FlushDirty(uint64_t maxBytes = UINT64_MAX);
  // Runs the queued commands; true when one of them may have started
  // something to watch (anything but a new peer, which connects nothing).
  bool DrainCommands();
  void ExecCmd(Cmd& c);

  // Connections.
  void AcceptAll(int listenFd, bool viaUnix);
  void PauseAccepting();
  void ResumeAccepting();
  int ConnectStream(Peer* p, Conn* c);
  void StartPeerConnect(Peer* p);
  void OnConnectWritable(Conn* c);
  bool HandleReadable(Conn* c);
  bool OnHeader(Conn* c);
  bool OnPayloadDone(Conn* c);
  bool ConsumePayload(Conn* c, const uint8_t* src, size_t n);
  bool RecvDirect(Conn* c);
  bool ReadsInPlace(const Conn* c);
  bool RecvReadInPlace(Conn* c, ssize_t* got);
  bool Flush(Conn* c, uint64_t maxBytes = UINT64_MAX);
  void Queue(Conn* c, const FrameHeader& h, const uint8_t* payload, uint64_t len);
  void QueueOwned(Conn* c, const FrameHeader& h, std::vector<uint8_t> payload);
  void QueueRegionData(Conn* c, const FrameHeader& h, uint32_t rid, uint64_t key,
                       const uint8_t* src);
  void CloseConn(Conn* c, const char* why);
  void UpdateInterest(Conn* c);

  // Target side.
  int32_t CheckRegion(uint32_t rid, uint64_t key, uint64_t addr, uint64_t len);
  bool OnHello(Conn* c);
  bool OnHelloOk(Conn* c);
  void SendHello(Conn* c);
  void Authenticated(Conn* c);
  // Name bindings: an agent name is bound to the identity key of its
  // metadata, or, for a name whose metadata was not loaded here, to the key
  // of its open connections (released when the last one closes). This
  // engine's own name is bound to its own key.
  bool BindName(const std::string& name, const uint8_t key[32]);
  void UnbindName(const std::string& name);
  // The name's metadata arrived: it binds the name to `key`, and the
  // connections that authenticated under that name with another key close.
  void BindNameFromMetadata(const std::string& name, const uint8_t key[32]);
  // Same host. The target validates every list before a byte moves; each
  // side writes only its own memory (the target pulls a WRITE, the
  // initiator a READ), so no peer can write into this process's memory,
  // even late (a peer frozen mid-copy and resumed after close()).
  int32_t CheckCmaList(Conn* c, iovec* local, iovec* remote, size_t* count, uint64_t* total);
  void ServeCmaWrite(Conn* c);
  void AnswerCmaRead(Conn* c, Op reply);
  void PullCmaRead(Conn* c);
  bool PullCmaEntries(Conn* c, const std::vector<uint8_t>& entries);

  // Shared memory (shared_mem.cc).
  struct ShmMap;
  ssize_t RecvSome(Conn* c, void* buf, size_t len);
  bool ShmReady(const Xfer* x, const Peer* p, uint64_t* total = nullptr);
  bool SubmitShm(Xfer* x, Peer* p);
  const char* PullGranted(Peer* p, iovec* to, iovec* from, size_t n, uint64_t bytes);
  void AskShmMaps(const Xfer* x, Peer* p);
  void ServeShmMap(Conn* c);
  bool OnShmGrant(Conn* c);
  void OnShmUnmap(Conn* c);
  void OnShmUnmapped(Conn* c);
  void RevokeGrants(uint32_t regionId, const Region& r);
  void Privatize(uint64_t addr);
  void ForgetShmConn(Conn* c);
  Conn* ConnById(uint64_t id);

  // Initiator side.
  void Submit(Xfer* x);
  void SubmitLocal(Xfer* x);
  void SubmitCma(Xfer* x, Peer* p);
  void SubmitSocket(Xfer* x, Peer* p);
  void OnPeerReady(Peer* p);
  void FailPeer(Peer* p, int32_t status, const std::string& why);
  void Settle(Xfer* x, int32_t status, const std::string& msg);
  void ApplyStatus(Xfer* x, int32_t status, const char* what);
  void ReplyDone(Xfer* x);
  Xfer* FindXfer(uint64_t xferId);
  // xferId: the transfer the notification is bound to (0 for genNotif);
  // ack: the target answers it with an ACK (ACK_REQ).
  void SendNotif(Peer* p, const uint8_t* msg, size_t len, uint64_t xferId, bool ack = false);
  void SendBoundNotif(Xfer* x, Peer* p);
  // Returns whether anything it watches is pending (a connect, a transfer in
  // flight, a quiet peer, an unauthenticated connection, paused accepts).
  bool CheckTimeouts();
  // A thread other than the I/O thread ran a command under ioMu_ (an inline
  // post, queued commands): it may have started something CheckTimeouts
  // watches, so the I/O thread checks before its next long sleep, and one in
  // that sleep now is woken.
  void NoteOutsideCommand();

  void Publish();
  void PublishNotifs();
  void Linger();
  void LingerMissed();

  EngineConfig cfg_;
  std::function<void()> onExit_;
  uint8_t secret_[32];
  uint8_t publicKey_[32];
  int port_ = 0;
  int listenFd_ = -1;
  int unixFd_ = -1;
  uint64_t acceptPausedUntilNs_ = 0;  // EMFILE/ENFILE: accepting resumes then
  size_t unauthIncoming_ = 0;         // accepted, HELLO not verified yet
  size_t authIncoming_ = 0;
  struct Binding {
    uint8_t key[32];
    bool fromMetadata = false;
    uint32_t liveConns = 0;
  };
  std::unordered_map<std::string, Binding> bindings_;  // I/O thread only
  int epollFd_ = -1;
  int eventFd_ = -1;
  // Fires kPollWatchNs after a post whose answer was left to a polling caller
  // (TryRunInline): if that caller stopped polling, the I/O thread reads it.
  int pollWatchFd_ = -1;
  bool pollWatchArmed_ = false;  // under ioMu_
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  // The I/O thread waits in epoll with the long idle timeout (kIdleTickMs).
  std::atomic<bool> idleSleep_{false};
  bool started_ = false;  // listening and the thread started, until Join
  bool stopRequested_ = false;

  // Held by the I/O thread while it handles events (not while it waits in
  // epoll); a JavaScript-thread post that gets it runs inline.
  std::mutex ioMu_;
  // Set while the I/O thread waits for ioMu_: Progress gives way to it.
  std::atomic<bool> ioWanted_{false};
  static constexpr uint64_t kInlineMaxBytes = 64 << 10;
  static constexpr size_t kInlineMaxDescs = 1024;
  // About what loopback TCP moves per µs here (iperf3: 3.5-4 GB/s).
  static constexpr uint64_t kInlineBytesPerUs = 4 << 10;
  static constexpr uint64_t kCmaMinBytes = 16 << 10;  // smaller same-host transfers use the socket
  // How long a peer's connections may stay masked after a busy-poll post.
  static constexpr uint64_t kQuietWatchNs = 20'000'000;
  // How long an answer left to a polling caller may wait for its next poll
  // before the I/O thread reads it instead.
  static constexpr uint64_t kPollWatchNs = 200'000;
  // busy_poll_us: how often a spinning thread that finds nothing yields.
  static constexpr uint64_t kSpinYieldNs = 5'000;
  // busy_poll_us: how often the spinning I/O thread, which looks at the
  // connection it served last, looks at all the others (epoll_wait).
  static constexpr uint64_t kSpinEpollNs = 20'000;
  // The largest socket READ whose answer a poll receives itself (Progress),
  // left to its polling caller under poll_progress=auto (CallerPollsAnswer):
  // one recv into the connection's buffer takes it whole; a 64 KiB answer
  // (two loopback segments) often came in pieces across polls.
  static constexpr uint64_t kPollAnswerMaxBytes = 32 << 10;
  // The largest socket transfer poll_progress=auto's shared-CPU regime decides
  // for and samples (SamplesRegime; AUTO_READS_MAX_BYTES in tcp-backend.ts).
  // Not raised with kPollAnswerMaxBytes: a polled READ above it is its
  // caller's whatever the regime says, so there is nothing to decide, and the
  // signals' thresholds were set on transfers up to 16 KiB.
  static constexpr uint64_t kRegimeMaxBytes = 16 << 10;
  // pollSend: socket WRITEs from cfg_.pollSendMinBytes on are sent by the
  // posting and polling thread; each postXferReq or getXferStatus sends at most
  // kPollSendChunk of payload per connection (a bounded call; the socket's
  // buffer, tcp_wmem at most 4 MiB here, usually takes less).
  static constexpr uint64_t kPollSendChunk = 4ull << 20;
  bool PollSends(const Xfer* x, const Peer* p) const;
  bool CallerPollsAnswer(const Xfer* x, const Peer* p) const;
  // A post whose settle by the I/O thread tells SharedCpuRegime something:
  // one whose answer auto may leave to the caller (small, socket path).
  bool SamplesRegime(const Xfer* x);
  bool inlineRun_ = false;  // ExecCmd runs on the posting thread (TryRunInline)

  std::mutex cmdMu_;
  std::vector<Cmd>* cmds_;
  std::vector<Cmd>* cmdsSpare_;
  std::atomic<bool> cmdPending_{false};

  std::mutex regionMu_;
  std::unordered_map<uint32_t, Region> regions_;
  uint32_t nextRegionId_ = 1;

  // Linger: transfers settled so far, and the peer of the last one (under
  // ioMu_); after a linger that saw no post, the next lingerSkip_ chances are
  // skipped, lingerBackoff_ doubling up to kLingerMaxBackoff (I/O thread).
  uint64_t settles_ = 0;
  uint32_t lastSettledPeer_ = 0;
  // Parked callers (ParkUntilSettle) sleep on settleSeq_ (a futex word), which
  // every settlement moves on; Settle wakes them only while parkers_ says so.
  std::atomic<uint32_t> settleSeq_{0};
  std::atomic<uint32_t> parkers_{0};
  uint32_t lingerBackoff_ = 0;
  uint32_t lingerSkip_ = 0;
  static constexpr uint32_t kLingerMaxBackoff = 64;
  std::atomic<uint64_t> lingerHits_{0};
  std::atomic<uint64_t> lingerMisses_{0};
  SharedCpuRegime regime_;  // poll_progress=auto

  CompletionQueue out_;
  CompletionBatch staged_;  // under ioMu_, moved into out_ by Publish

  std::atomic<uint32_t> nextPeerId_{1};
  uint64_t nextConnId_ = 1;  // I/O thread (under ioMu_)

  // Shared memory. Allocations by address (under regionMu_).
  std::unordered_map<uint64_t, std::weak_ptr<SharedAlloc>> sharedAllocs_;
  // Deregistrations waiting for peers to unmap: region id -> connections
  // that have not answered SHM_UNMAPPED yet (under unmapMu_).
  struct UnmapWait {
    std::vector<uint64_t> conns;
    bool lost = false;  // a granted connection closed without answering
  };
  std::mutex unmapMu_;
  std::condition_variable unmapCv_;
  std::unordered_map<uint32_t, UnmapWait> unmapWaits_;
  std::mutex countersMu_;
  ShmCounters counters_;

  // I/O thread only.
  std::unordered_map<uint32_t, std::unique_ptr<Peer>> peers_;
  std::vector<std::unique_ptr<Xfer>> xfers_;  // by slot; grows with the slot table
  std::vector<Conn*> conns_;
  std::vector<Conn*> dirty_;
  std::vector<Conn*> graveyard_;
  uint64_t lastTimerNs_ = 0;
  // When the I/O thread last had a socket event or something to watch
  // (CheckTimeouts), and last ran commands; kIdleAfterNs after the one, and
  // once CheckTimeouts ran since the other, it sleeps kIdleTickMs at a time.
  uint64_t lastBusyNs_ = 0;
  std::atomic<uint64_t> lastCommandNs_{0};  // also by inline posts (ioMu_)
  // The timer tick, and the tick of an engine with nothing to watch: an idle
  // agent's thread wakes a few times a second instead of 50 (a process with
  // many agents, each its own engine, paid ~1 ms of CPU a second for each).
  static constexpr int kTickMs = 20;
  static constexpr int kIdleTickMs = 250;
  static constexpr uint64_t kIdleAfterNs = 100'000'000;
  std::unique_ptr<VmCopyPool> copyPool_;  // I/O thread only
  bool debug_ = false;  // NIXL_TCP_DEBUG=1: log why connections close (never per transfer)
};

uint64_t NowNs();

}  // namespace nixl::tcp
