// The UCX engine of one backend instance: a UCP context (RMA + active
// messages + wake-up), N workers, endpoints to peers with peer error handling,
// regions mapped with ucp_mem_map (public data = packed rkey), and transfers
// (put/get_nbx, then a flush, then the notification as an active message).
//
// Threads. Every UCX call on a worker happens under that worker's mutex
// (workers run in UCS_THREAD_MODE_SERIALIZED; the context is shared by
// threads, mt_workers_shared=1). The JavaScript thread posts; progress runs
// either on a dedicated thread (ProgressMode::kThread) or on the libuv loop
// from the workers' event fds (ProgressMode::kEventFd). Request callbacks only
// update transfer state; completions, notifications and peer failures are
// queued and handed to JavaScript in batches through `wake` (one wake-up per
// batch). A transfer's status also lands in a shared Int32Array slot, so that
// JavaScript polls it without calling into native code.
#pragma once
#include <ucp/api/ucp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/completion_batch.h"
#include "common/native_error.h"
#include "ucx/am_auth.h"
#include "ucx/process_identity.h"

namespace nixl::ucx {

enum class ProgressMode { kThread, kEventFd };

// How a peer's failure is noticed. kPeer: UCX's peer error handling on every
// endpoint. kNone: not at all. kProcess: a peer on this host (same kernel and
// pid namespace) is watched through its process (a pidfd on the libuv loop)
// and its endpoints go without UCX error handling, which on UCX 1.13 is what
// lets posix/sysv shared memory carry its RMA; any other peer gets kPeer.
enum class ErrorMode { kPeer, kNone, kProcess };

struct EngineOptions {
  std::string agentName;
  std::vector<std::pair<std::string, std::string>> config;  // UCX config key=value, per context
  unsigned numWorkers = 1;
  ErrorMode errorMode = ErrorMode::kPeer;
  ProgressMode progress = ProgressMode::kThread;
  // A peer with transfers in flight that completes nothing for this long is
  // failed (RemoteDisconnectError, "timed out"): UCX notices neither a frozen
  // peer over tcp nor a stuck shared-memory queue. 0: never.
  unsigned timeoutMs = 0;
  // Whether this engine acknowledges notifications (its regions say so) and
  // waits for a target's acknowledgement before a transfer is DONE.
  bool notifAck = true;
};

// An error with the NIXL status it maps to.
using EngineError = nixl::NativeError;

struct LocalRegion;
struct Peer;
struct RemoteRegion;
struct Xfer;
class UcxEngine;

struct Worker {
  UcxEngine* engine = nullptr;
  unsigned index = 0;
  ucp_worker_h handle = nullptr;
  int efd = -1;
  std::mutex mu;
  std::vector<uint8_t> address;
  // Transfers whose flush completed inside a callback; their notification
  // (or completion) is handled right after ucp_worker_progress returns.
  std::vector<Xfer*> flushed;
  // Transfers whose endpoint finished its handshake inside a callback; they
  // are started right after ucp_worker_progress returns.
  std::vector<Xfer*> unblocked;
  std::vector<void*> closing;  // ucp_ep_close_nbx requests not yet complete
  // Peers whose endpoint finished a flush while transfers wait for the next one.
  std::vector<std::shared_ptr<Peer>> flushReady;
  // Transfers whose notification waits for the target's kAmNotifAck, by token.
  std::unordered_map<uint64_t, Xfer*> awaitingAck;
  // Endpoints whose HELLO waits for the target's acceptance, by its session
  // id (EpHello), and the earliest time one of them retries (0: none).
  std::unordered_map<uint64_t, std::shared_ptr<Peer>> awaitingHello;
  // Endpoints whose session is open, by its id: a later acceptance (a target
  // that loaded our metadata since) says it acknowledges on its own endpoints.
  std::unordered_map<uint64_t, std::weak_ptr<Peer>> openSessions;
  size_t openSessionsSwept = 0;  // its size after the last sweep (OpenSession)
  int64_t helloRetryAtNs = 0;    // SteadyNs time
  bool hasDeferred() const { return !flushed.empty() || !unblocked.empty() || !flushReady.empty(); }
};

// One endpoint's handshake state (guarded by its worker's mutex). Data waits
// until the endpoint's first active message (kAmHello) has been sent: see
// UcxEngine::MakePeer for why.
struct EpGate {
  bool ready = false;
  std::vector<Xfer*> waiting;  // posted before the handshake finished
};

// The steady clock in ns (std::chrono::steady_clock), the clock of the HELLO
// retry times below.
int64_t SteadyNs();
// Lowers `earliest` to `at`, a time where 0 means none (HELLO retry times).
inline void KeepEarliest(int64_t& earliest, int64_t at) {
  if (at != 0 && (earliest == 0 || at < earliest)) earliest = at;
}
// How long until SteadyNs time `atNs` (0: never), in whole ms rounded up, at most `cap`.
uint64_t MsUntil(int64_t atNs, uint64_t cap);

// A tagged message that waits for its endpoint's session: a transfer's
// notification (x), or a standalone one (id, body: genNotif, revocation).
struct HeldAm {
  Xfer* x = nullptr;
  unsigned id = 0;
  std::vector<uint8_t> body;
};

// One endpoint's HELLO (am_auth.h; guarded by its worker's mutex). It goes
// out with the endpoint's first tagged message, which waits, as every tagged
// message after it, until the target accepts a HELLO of this endpoint:
// after a refusal, or no answer, a new HELLO follows with backoff
// (UcxEngine::RetryHellos). Transfers (puts, gets, flushes) never wait.
struct EpHello {
  enum class State { kUnsent, kAwaiting, kOpen, kFailed };
  State state = State::kUnsent;
  std::vector<uint8_t> next;  // the HELLO to send (made at loadRemoteMD)
  int64_t firstSentNs = 0;    // SteadyNs time, for timeout_ms
  int64_t retryAtNs = 0;      // kAwaiting: a new HELLO then unless accepted
  uint32_t backoffMs = 0;
  std::deque<HeldAm> held;  // in order
  size_t heldBytes = 0;     // their bodies (notifications) together
};

// What one endpoint holds at most while its session is not accepted (with
// timeout_ms 0 it may never be): past either, a genNotif or a post with a
// notification to that agent fails with kErrNotAllowed, changing nothing.
// Revocations are never refused (at most one per deregistered region).
constexpr size_t kMaxHeldMessages = 1024;
constexpr size_t kMaxHeldBytes = size_t(64) << 20;

// One endpoint's flushes (guarded by its worker's mutex). At most one flush is
// in flight; transfers posted meanwhile wait and share the next one, since a
// flush completes every operation issued on the endpoint before it. Small
// transfers posted back to back thus cost one flush per round trip, not each.
struct EpFlush {
  bool inFlight = false;
  std::vector<Xfer*> next;
};

// The transfers one ucp_ep_flush_nbx request covers.
struct FlushGroup {
  UcxEngine* engine;
  std::shared_ptr<Peer> peer;
  unsigned worker;
  std::vector<Xfer*> xfers;
};

// Whether a peer moves anything, for timeout_ms. Owned by the engine until
// it is destroyed, so UCX request callbacks may touch it at any time. A
// counter, not a time: the hot path pays an increment, not a clock read; the
// timeout check notes when it last saw the counter change.
struct PeerClock {
  std::atomic<uint64_t> moves{0};
  std::atomic<int> inflight{0};  // transfers to the peer in flight
  void Touch() { moves.fetch_add(1, std::memory_order_relaxed); }
  // JS thread only (CheckTimeouts): the count it last saw, and when.
  uint64_t seenMoves = 0;
  uint64_t seenAtNs = 0;
};

struct Peer {
  uint32_t id = 0;
  PeerClock* clock = nullptr;
  std::string name;
  bool self = false;
  std::vector<ucp_ep_h> eps;     // one per local worker; written under that worker's mutex
  size_t remoteWorkers = 0;      // how many worker addresses its metadata has
  std::vector<EpGate> gates;     // one per local worker
  std::vector<EpFlush> flushes;  // one per local worker
  std::atomic<int> failStatus{0};
  std::atomic<bool> failReported{false};
  std::atomic<bool> closed{false};
  std::mutex failMu;
  std::string failMessage;
  bool errHandling = false;  // its endpoints use UCP_ERR_HANDLING_MODE_PEER
  // Its keys, from its connection info, and our session on each endpoint
  // (am_auth.h; a session is written under its worker's mutex).
  uint8_t identityKey[kKeySize] = {};
  uint8_t exchangeKey[kKeySize] = {};
  std::vector<SendSession> sessions;
  std::vector<EpHello> hellos;  // one per local worker
  // kProcess: the peer's process, watched on the libuv loop (JS thread only).
  uint32_t pid = 0;
  int pidfd = -1;
  void* watch = nullptr;
  bool exited = false;
  ~Peer();
};

// The UCP context, shared by the engine and by the memory it allocated: a
// Buffer over UCX-allocated memory may outlive the engine, and unmapping that
// memory needs the context. ucp_cleanup runs when the last owner lets go.
struct Context {
  ucp_context_h handle = nullptr;
  Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();
};

// Memory that UCX allocated itself (ucp_mem_map with UCP_MEM_MAP_ALLOCATE).
// UCX picks its kind by UCX_ALLOC_PRIO, System V or POSIX shared memory first,
// which its shared-memory transports can map in a peer on this host, so a
// put or get there is a plain copy. Memory the user allocated cannot get that
// on UCX 1.13: RMA on it is emulated with active messages.
struct Allocation {
  std::shared_ptr<Context> ctx;
  ucp_mem_h memh = nullptr;
  uint64_t addr = 0;
  uint64_t len = 0;
  ~Allocation();
};

struct LocalRegion {
  UcxEngine* engine = nullptr;
  // Set when the region lies in UCX-allocated memory: its memory handle is the
  // allocation's, which outlives the region.
  std::shared_ptr<Allocation> allocation;
  uint32_t handle = 0;
  uint64_t regionId = 0;
  uint64_t addr = 0;
  uint64_t len = 0;
  ucp_mem_h memh = nullptr;
  std::vector<uint8_t> publicData;
  ~LocalRegion();
};

struct RemoteRegion {
  UcxEngine* engine = nullptr;
  uint32_t handle = 0;
  uint64_t regionId = 0;
  std::shared_ptr<Peer> peer;
  std::vector<ucp_rkey_h> rkeys;  // one per local worker (rkeys are per endpoint)
  std::atomic<bool> revoked{false};
  bool acksNotifs = false;  // its owner acknowledges notifications (kRegionAcksNotifs)
  ~RemoteRegion();
};

struct XferOp {
  uint64_t local = 0;
  uint64_t remote = 0;
  size_t len = 0;
  ucp_mem_h memh = nullptr;
  ucp_rkey_h rkey = nullptr;
};

struct Xfer {
  UcxEngine* engine = nullptr;
  uint32_t id = 0;
  bool read = false;
  unsigned worker = 0;
  std::shared_ptr<Peer> peer;
  std::vector<std::shared_ptr<LocalRegion>> locals;
  std::vector<std::shared_ptr<RemoteRegion>> remotes;
  std::vector<XferOp> ops;
  // Its status slot (common/status_slots.h): the number JavaScript knows it
  // by, where the slot lives, and the post the slot is for.
  uint32_t slotIndex = 0;
  int32_t* slot = nullptr;
  uint32_t gen = 0;
  int32_t detachedSlot = 0;  // where a released transfer's late status goes
  // Guarded by the worker's mutex:
  bool inFlight = false;
  bool released = false;
  // Failed because its peer's process exited, while UCX may still hold
  // requests that point at it: kept until the engine closes.
  bool orphan = false;
  // Post is running for it on the JavaScript thread: a completion meanwhile is
  // returned by Post itself, so it queues no event (and no wake-up).
  bool posting = false;
  std::vector<uint8_t> notif;     // with ackNotif: 8 bytes for the token, then the notification
  std::vector<uint8_t> amHeader;  // the notification's tagged header (kept until it is sent)
  bool hasNotif = false;
  // The target acknowledges its notification (every remote region says so):
  // DONE waits for that acknowledgement. Guarded by the worker's mutex:
  // ackToken is nonzero while the transfer is in its worker's awaitingAck;
  // notifSent / notifAcked: the send completed locally / the ack came.
  bool ackNotif = false;
  uint64_t ackToken = 0;
  bool notifSent = false;
  bool notifAcked = false;
  std::string error;
  // Guarded by the worker's mutex. A transfer settles only when its flush and
  // every put/get UCX could not finish at once have called back, and succeeds
  // only if all of them did: a flush can complete while an op failed.
  unsigned opsPending = 0;
  bool flushDone = false;
  int failStatus = 0;  // NIXL status of the first failure (its message in `error`)
};

class UcxEngine {
 public:
  // Throws EngineError.
  UcxEngine(EngineOptions opts, std::function<void()> wake);
  ~UcxEngine();

  // Progress on the libuv loop (kEventFd) needs the loop; call once after construction.
  void StartProgress(void* uvLoop);
  // Stops progress, fails transfers in flight, frees everything. Idempotent.
  // Call it on the JavaScript thread, or call DetachFromLoop there first and
  // then Close on any thread.
  // `drain`: how long transfers on the wire may finish first.
  void Close(std::chrono::milliseconds drain = std::chrono::milliseconds(2000));
  // JavaScript thread: closes every libuv handle of the engine (process
  // watches, timers, event-fd polls). What is left of Close then touches no
  // libuv state and may run on another thread. Idempotent.
  void DetachFromLoop();
  bool closed() const { return closed_; }

  const EngineOptions& options() const { return opts_; }
  std::vector<uint8_t> ConnInfo() const;

  // Memory allocated by UCX (see Allocation), zeroed. Throws EngineError.
  std::shared_ptr<Allocation> Allocate(uint64_t len);

  // Regions. A region inside an Allocation uses its memory handle.
  std::shared_ptr<LocalRegion> Register(uint64_t addr, uint64_t len);
  void Deregister(uint32_t handle);
  std::shared_ptr<RemoteRegion> LoadRemote(uint32_t peerId, const uint8_t* pub, size_t len);
  std::shared_ptr<RemoteRegion> LoadLocal(uint32_t localHandle);
  void Unload(uint32_t handle);

  // Peers.
  uint32_t LoadPeer(const std::string& name, const uint8_t* connInfo, size_t len);
  void DropPeer(uint32_t peerId);
  uint32_t selfPeerId() const { return selfPeer_->id; }
  // 0 if healthy, else the NIXL status it failed with (and its message).
  int PeerStatus(uint32_t peerId, std::string* message);

  // Transfers. `slotIndex` and `slot`: the transfer's status slot
  // (common/status_slots.h); `gen`: which post of it this is, named by the
  // completion batch entry it settles with.
  uint32_t Prep(bool read, uint32_t peerId, size_t count, const double* laddrs, const double* lens,
                const uint32_t* lregions, const double* raddrs, const uint32_t* rregions,
                uint32_t slotIndex, int32_t* slot, int workerHint);
  // Returns the status (1 in progress, 0 done, negative error; message in
  // *error). A post that settles inside the call queues no batch entry.
  int Post(uint32_t xferId, uint32_t gen, const uint8_t* notif, size_t notifLen, bool hasNotif,
           std::string* error);
  // Frees the transfer's status slot (kSlotFree) at once: one still in flight
  // writes its late status elsewhere from now on.
  void Release(uint32_t xferId);
  void GenNotif(uint32_t peerId, const uint8_t* msg, size_t len);
  // What the target side of the authentication refused so far (am_auth.h).
  AuthCounters authCounters();
  // Tests only: sends an arbitrary active message to the peer on worker 0, as
  // a forger would, with no session tag of ours.
  void ForgeAm(uint32_t peerId, unsigned id, const uint8_t* header, size_t headerLen,
               const uint8_t* body, size_t len);
  // One bounded round of progress on the calling (JavaScript) thread.
  void ProgressOnce();

  // Takes the pending batch and frees released transfers that settled (JS thread).
  void TakeBatch(CompletionBatch* out);
  // Waits for settles in progress on other threads at most (JS thread): a
  // transfer whose slot reads settled is then in the pending batch, since a
  // settle stores and publishes under its worker's mutex.
  void AwaitPublished();

  // UCX callbacks (static trampolines call these).
  void OnFlushed(Xfer* x, ucs_status_t status);
  void OnOpDone(Xfer* x, ucs_status_t status);
  // Under the worker's mutex: the first failure of a transfer is the one it reports.
  static void NoteFailure(Xfer* x, int status, const std::string& message);
  // Under the worker's mutex: settles x once its flush and all its ops called back.
  void MaybeSettle(Worker& w, Xfer* x);
  void OnGroupFlushed(FlushGroup* g, ucs_status_t status);
  void OnNotifSent(Xfer* x, ucs_status_t status);
  void OnHelloSent(const std::shared_ptr<Peer>& peer, unsigned worker);
  void OnPeerError(const std::shared_ptr<Peer>& peer, unsigned worker, ucs_status_t status);
  // kProcess: the watched process of peerId exited (JS thread).
  void OnPeerExited(uint32_t peerId);
  // timeout_ms: fails peers whose transfers stopped moving (JS thread, on a timer).
  void CheckTimeouts();
  // Queues a notification for JavaScript (getNotifs, 'notif').
  void PublishNotif(std::string_view from, const uint8_t* data, size_t len);
  // False: refused (no session of its sender, bad MAC or old sequence number).
  bool OnNotifAm(const void* header, size_t headerLen, const void* data, size_t len);
  // Target, inside progress on w: a HELLO; an accepted one is answered on
  // this agent's own endpoint to the sender, if it has one.
  void OnHelloAm(Worker& w, const void* data, size_t len);
  // Target, inside progress on w: the loaded peer `name` if w's own endpoint
  // to it reaches the sender's worker of the same index, else null.
  std::shared_ptr<Peer> OwnEndpointPeer(Worker& w, std::string_view name);
  // Target: a HELLO query, answered on its reply endpoint.
  void OnHelloQueryAm(Worker& w, const void* data, size_t len, const ucp_am_recv_param_t* param);
  // Sender, inside progress on w: the target's answer to a HELLO of ours.
  void OnHelloAnswerAm(Worker& w, const void* data, size_t len);
  // Under w.mu, inside progress: new HELLOs for endpoints whose retry time
  // came, or their held messages failed past timeout_ms.
  void RetryHellos(Worker& w);
  void OnRevokeAm(const void* header, size_t headerLen, const void* data, size_t len);
  // Target, inside progress on w: queues the notification, then acknowledges
  // it on its reply endpoint or, without one, on w's own endpoint to the sender.
  void OnNotifAckedAm(Worker& w, const void* header, size_t headerLen, const void* data, size_t len,
                      const ucp_am_recv_param_t* param);
  // Initiator, inside progress on w: a target acknowledged a notification.
  void OnNotifAckAm(Worker& w, const void* header, size_t headerLen, const void* data, size_t len);
  bool closing() const { return closing_.load(std::memory_order_acquire); }

  // Progress drivers (progress.cc).
  void Pump();                  // kEventFd: bounded progress + arm on every worker
  void WatchEventFds(bool on);  // kEventFd: the uv_polls on the workers' event fds
  Worker& worker(unsigned i) { return *workers_[i]; }
  unsigned numWorkers() const { return static_cast<unsigned>(workers_.size()); }

 private:
  friend struct LocalRegion;
  friend struct RemoteRegion;
  std::shared_ptr<Peer> MakePeer(const std::string& name, const uint8_t* connInfo, size_t len,
                                 bool self);
  void CloseEps(Peer& peer, bool force = false);
  // Marks the peer failed and tells JavaScript once.
  void MarkFailed(const std::shared_ptr<Peer>& peer, const std::string& msg);
  void WatchProcess(Peer& peer);
  void UnwatchProcess(Peer& peer);
  // JS thread: fails every transfer in flight to the peer and reports it gone.
  void FailPeerTransfers(const std::shared_ptr<Peer>& peer, const std::string& msg);
  void StartTimeoutTimer(void* uvLoop);
  void StopTimeoutTimer();
  void AfterPost(Worker& w);
  // Under w.mu, kThread only: one progress pass that puts what was just posted
  // on the wire without waiting for the thread.
  void PushPosted(Worker& w);
  // After w.mu is released: wakes the progress thread or schedules a pump.
  void KickProgress(Worker& w);
  // Under w.mu: puts or gets every op of x, then the flush.
  void Start(Worker& w, Xfer* x);
  // Under w.mu: flushes x's operations now, or with the next flush of its endpoint.
  void RequestFlush(Worker& w, Xfer* x);
  void IssueFlush(Worker& w, const std::shared_ptr<Peer>& peer, std::vector<Xfer*> xfers);
  // Under w.mu: sends the notification or completes the transfer.
  void FinishFlushed(Worker& w, Xfer* x);
  // Under the worker's mutex: stores the status in x's slot and queues its batch entry.
  void Settle(Xfer* x, int status, const std::string& error);
  // Under w.mu: fails the transfers to `peer` that wait for its acknowledgement on w.
  void FailAwaitingAck(Worker& w, const Peer& peer, const std::string& error);
  // Under x's worker's mutex: x no longer waits for an acknowledgement.
  void ForgetAck(Xfer* x);
  void DrainFlushed(Worker& w);
  void ReapClosing(Worker& w);
  // A tagged message to `peer` on w's endpoint (session of that endpoint).
  void SendAm(Worker& w, const std::shared_ptr<Peer>& peer, unsigned id, const uint8_t* data,
              size_t len);
  // Under w.mu: x's notification, tagged, on the wire (its session is open).
  void SendNotif(Worker& w, Xfer* x);
  // Under w.mu: whether w's endpoint to `peer` has an accepted session; if
  // its HELLO was not sent yet, sends it.
  EpHello::State SessionState(Worker& w, const std::shared_ptr<Peer>& peer);
  // Under w.mu: sends the endpoint's next HELLO (making one if needed) and
  // waits for its answer.
  void SendHello(Worker& w, const std::shared_ptr<Peer>& peer);
  // Under w.mu: empty if w's endpoint to `peer` can hold one more message of
  // `len` bytes (or needs not: its session is open), else why not.
  std::string HeldFull(Worker& w, const Peer& peer, size_t len) const;
  // Under w.mu: the session is accepted; its held messages go, in order.
  void OpenSession(Worker& w, const std::shared_ptr<Peer>& peer);
  // Under w.mu: w's endpoint to `peer` will have no session (it stops
  // awaiting an answer); the transfers held on it fail, its other messages are dropped.
  void FailSession(Worker& w, Peer& peer, const std::string& error);
  std::vector<Xfer*> SwapGraveyard();
  void ThreadMain();
  void StopProgress();
  void StopLoopProgress();  // the kEventFd handles (JavaScript thread)
  void DrainInFlight(std::chrono::milliseconds limit);
  // ucp_ep_flush_nbx requests not yet called back (Close waits for them).
  std::atomic<int> flushesInFlight_{0};
  // Transfers whose requests UCX still held when Close gave up waiting: kept,
  // with their workers, for the rest of the process.
  std::vector<Xfer*> leaked_;

  EngineOptions opts_;
  std::shared_ptr<Context> ctx_;
  ucp_context_h context_ = nullptr;                     // ctx_->handle while open
  std::vector<std::weak_ptr<Allocation>> allocations_;  // JS thread only
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<Peer> selfPeer_;
  ProcessIdentity self_ = ProcessIdentity::Self();
  AgentKeys keys_ = AgentKeys::Generate();
  std::atomic<uint64_t> nextHelloStamp_{FirstHelloStamp()};  // am_auth.h
  AmAuthority auth_{opts_.agentName, keys_};

  // JS-thread-only maps.
  std::unordered_map<uint32_t, std::shared_ptr<LocalRegion>> locals_;
  std::unordered_map<uint32_t, std::shared_ptr<RemoteRegion>> remotes_;
  std::unordered_map<uint32_t, std::shared_ptr<Peer>> peers_;
  // Peers by name, for answering HELLOs on the progress thread (OnHelloAm).
  std::mutex byNameMu_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> byName_;
  std::unordered_map<uint32_t, Xfer*> xfers_;
  std::unordered_set<Xfer*> releasedInFlight_;
  uint32_t nextHandle_ = 1;
  uint32_t nextPeer_ = 1;
  uint32_t nextXfer_ = 1;
  uint64_t regionIdBase_ = 0;
  uint64_t regionCounter_ = 0;
  unsigned roundRobin_ = 0;

  // Remote regions by region id, for revocations arriving on the progress thread.
  std::mutex revokeMu_;
  std::unordered_multimap<uint64_t, RemoteRegion*> byRegionId_;

  // Endpoint error-callback contexts; freed when the engine closes.
  struct EpCtx {
    UcxEngine* engine;
    std::shared_ptr<Peer> peer;
    unsigned worker;
  };
  std::vector<std::unique_ptr<EpCtx>> epCtxs_;
  std::vector<std::unique_ptr<PeerClock>> clocks_;
  void* timeoutTimer_ = nullptr;  // uv_timer_t, timeout_ms only
  // Under w.mu: the endpoint's handshake message (see MakePeer in engine.cc).
  void SendHandshake(Worker& w, Peer& peer, EpCtx* ctx);
  std::atomic<uint64_t> hellosRetried_{0};  // AuthCounters::hellosRetried

  CompletionQueue out_;
  // Transfers released in flight that settled since: deleted on the JS thread.
  std::mutex graveMu_;
  std::vector<Xfer*> graveyard_;

  // Progress.
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  // kThread: whether a post also runs one progress pass (PushPosted).
  bool postProgress_ = true;
  void* uvLoop_ = nullptr;
  struct UvState;
  UvState* uv_ = nullptr;
  void RequestPump();

  std::atomic<bool> closing_{false};
  bool closed_ = false;
};

}  // namespace nixl::ucx
