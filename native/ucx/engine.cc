// UCX engine: context, workers, endpoints, regions, transfers, notifications.
// Progress drivers live in progress.cc; the JavaScript binding in binding.cc.
#include "ucx/engine.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string_view>
#include <thread>

#include "common/status_slots.h"
#include "ucx/ucs_status.h"
#include "ucx/wire.h"

namespace nixl::ucx {
namespace {

[[noreturn]] void Fail(int status, const std::string& message) {
  throw EngineError{status, message};
}

[[noreturn]] void FailUcx(const std::string& what, ucs_status_t s) {
  throw EngineError{ToNixlStatus(s), UcxMessage(what, s)};
}

void FlushCb(void* request, ucs_status_t status, void* userData) {
  auto* g = static_cast<FlushGroup*>(userData);
  ucp_request_free(request);
  g->engine->OnGroupFlushed(g, status);
}

void NotifSentCb(void* request, ucs_status_t status, void* userData) {
  auto* x = static_cast<Xfer*>(userData);
  ucp_request_free(request);
  x->engine->OnNotifSent(x, status);
}

// A put or get UCX could not finish at once completed (or failed).
void RmaDoneCb(void* request, ucs_status_t status, void* userData) {
  ucp_request_free(request);
  auto* x = static_cast<Xfer*>(userData);
  x->engine->OnOpDone(x, status);
}

constexpr uint64_t kMaxOpBytes = 64ull << 20;
// A completed op at least this large shows timeout_ms that the peer moves data.
constexpr uint64_t kWatchedOpBytes = 256ull << 10;

// Moves `v` to the heap for good: its destructor never runs.
template <typename T>
void Leak(T& v) {
  new T(std::move(v));
}

// Standalone active messages (genNotif, revocations) own a copy of their payload.
struct AmBuffer {
  std::vector<uint8_t> header;
  std::vector<uint8_t> data;
};

void AmBufferSentCb(void* request, ucs_status_t, void* userData) {
  ucp_request_free(request);
  delete static_cast<AmBuffer*>(userData);
}

// Every active message goes eagerly (never by rendezvous): `sent` runs with
// `userData` once UCX completes a send it could not finish at once.
ucp_request_param_t EagerAmParams(ucp_send_nbx_callback_t sent, void* userData) {
  ucp_request_param_t p{};
  p.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
  p.cb.send = sent;
  p.user_data = userData;
  p.flags = UCP_AM_SEND_FLAG_EAGER;
  return p;
}

// Sends `buf` on `ep` eagerly and owns it from then on (freed once UCX is done
// with it); the caller holds the mutex of the worker `ep` belongs to.
ucs_status_ptr_t SendAmBuffer(ucp_ep_h ep, unsigned id, AmBuffer* buf) {
  ucp_request_param_t p = EagerAmParams(AmBufferSentCb, buf);
  ucs_status_ptr_t r = ucp_am_send_nbx(ep, id, buf->header.data(), buf->header.size(),
                                       buf->data.data(), buf->data.size(), &p);
  if (r == nullptr || UCS_PTR_IS_ERR(r)) delete buf;
  return r;
}

ucs_status_t NotifAmCb(void* arg, const void* header, size_t headerLen, void* data, size_t len,
                       const ucp_am_recv_param_t*) {
  static_cast<UcxEngine*>(arg)->OnNotifAm(header, headerLen, data, len);
  return UCS_OK;
}

ucs_status_t RevokeAmCb(void* arg, const void* header, size_t headerLen, void* data, size_t len,
                        const ucp_am_recv_param_t*) {
  static_cast<UcxEngine*>(arg)->OnRevokeAm(header, headerLen, data, len);
  return UCS_OK;
}

ucs_status_t NotifAckedAmCb(void* arg, const void* header, size_t headerLen, void* data, size_t len,
                            const ucp_am_recv_param_t* param) {
  auto* w = static_cast<Worker*>(arg);
  w->engine->OnNotifAckedAm(*w, header, headerLen, data, len, param);
  return UCS_OK;
}

// Registered per worker (arg = the Worker): an acknowledgement comes back to
// the worker that sent the notification, whose awaitingAck holds its transfer.
ucs_status_t NotifAckAmCb(void* arg, const void* header, size_t headerLen, void* data, size_t len,
                          const ucp_am_recv_param_t*) {
  auto* w = static_cast<Worker*>(arg);
  w->engine->OnNotifAckAm(*w, header, headerLen, data, len);
  return UCS_OK;
}

uint64_t GetU64(const void* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);  // little-endian hosts only, as the rest of the wire
  return v;
}

// The handshake message opens the sender's session (am_auth.h). Registered
// per worker: an answer goes on this worker's endpoint to the sender.
ucs_status_t HelloAmCb(void* arg, const void*, size_t, void* data, size_t len,
                       const ucp_am_recv_param_t*) {
  auto* w = static_cast<Worker*>(arg);
  w->engine->OnHelloAm(*w, data, len);
  return UCS_OK;
}

ucs_status_t HelloQueryAmCb(void* arg, const void*, size_t, void* data, size_t len,
                            const ucp_am_recv_param_t* param) {
  auto* w = static_cast<Worker*>(arg);
  w->engine->OnHelloQueryAm(*w, data, len, param);
  return UCS_OK;
}

// Registered per worker, as NotifAckAmCb: the answer comes back to the
// worker whose endpoint sent the HELLO.
ucs_status_t HelloAnswerAmCb(void* arg, const void*, size_t, void* data, size_t len,
                             const ucp_am_recv_param_t*) {
  auto* w = static_cast<Worker*>(arg);
  w->engine->OnHelloAnswerAm(*w, data, len);
  return UCS_OK;
}

// How a sender paces the HELLOs of an endpoint the target has not accepted
// yet (UcxEngine::RetryHellos): it waits for an answer this long, and after
// a refusal the target's hint or its own backoff, whichever is longer; the
// backoff doubles per HELLO up to its cap.
constexpr int64_t kAnswerWaitMs = 1000;
constexpr uint32_t kMinBackoffMs = 20;
constexpr uint32_t kMaxBackoffMs = 2000;

}  // namespace

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t MsUntil(int64_t atNs, uint64_t cap) {
  if (atNs == 0) return cap;
  int64_t ns = atNs - SteadyNs();
  if (ns <= 0) return 0;
  return std::min<uint64_t>(cap, static_cast<uint64_t>((ns + 999'999) / 1'000'000));
}

Context::~Context() {
  if (handle != nullptr) ucp_cleanup(handle);
}

Allocation::~Allocation() {
  if (memh != nullptr) ucp_mem_unmap(ctx->handle, memh);
}

LocalRegion::~LocalRegion() {
  if (memh != nullptr && !allocation) ucp_mem_unmap(engine->context_, memh);
}

RemoteRegion::~RemoteRegion() {
  {
    std::lock_guard<std::mutex> lock(engine->revokeMu_);
    auto range = engine->byRegionId_.equal_range(regionId);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == this) {
        engine->byRegionId_.erase(it);
        break;
      }
    }
  }
  for (size_t i = 0; i < rkeys.size(); ++i) {
    if (rkeys[i] == nullptr) continue;
    Worker& w = engine->worker(static_cast<unsigned>(i));
    std::lock_guard<std::mutex> lock(w.mu);
    ucp_rkey_destroy(rkeys[i]);
  }
}

UcxEngine::UcxEngine(EngineOptions opts, std::function<void()> wake)
    : opts_(std::move(opts)), out_(std::move(wake)) {
  if (opts_.numWorkers < 1 || opts_.numWorkers > 64) {
    Fail(kErrInvalidParam, "numWorkers must be 1..64");
  }
  std::random_device rd;
  regionIdBase_ = (static_cast<uint64_t>(rd()) << 32 | rd()) & ~0xffffffffull;
  // Over tcp alone a post's data is on the socket when ucp_put_nbx returns,
  // and a progress pass on the posting thread only adds an epoll_wait and
  // reads answers the progress thread would read: it cost the JavaScript
  // thread 18 -> 12 us per 4 KiB request (bench/ucx/request-cost.ts).
  // Elsewhere (shared memory, verbs) it stays: not measured to pay.
  for (const auto& [key, value] : opts_.config) {
    if (key == "TLS") postProgress_ = value != "tcp";
  }

  ucp_config_t* config = nullptr;
  ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
  if (s != UCS_OK) FailUcx("ucp_config_read", s);
  // No UCP registration cache (the backend's own parameters can turn it back
  // on). NIXL registers explicitly and every operation carries its memory
  // handle, so the cache buys nothing here, while creating it installs UCX's
  // memory hooks, whose self-test (ucm_mmap_test_events_nolock ->
  // ucm_fire_mmap_events_internal, src/ucm/mmap/install.c) calls brk(NULL)
  // through ucm_orig_brk (src/ucm/util/replace.c), which stores the result in
  // glibc's __curbrk without malloc's lock. When another thread grows the brk
  // heap at that moment, __curbrk goes stale, the next sbrk lowers the break
  // under live heap memory, and the process faults later (seen in V8's GC, or
  // glibc's "break adjusted to free malloc space"). Every context creation runs
  // that self-test.
  s = ucp_config_modify(config, "RCACHE_ENABLE", "n");
  if (s != UCS_OK) {
    ucp_config_release(config);
    FailUcx("ucp_config_modify RCACHE_ENABLE", s);
  }
  for (const auto& [key, value] : opts_.config) {
    s = ucp_config_modify(config, key.c_str(), value.c_str());
    if (s != UCS_OK) {
      ucp_config_release(config);
      throw EngineError{kErrInvalidParam, UcxMessage("UCX config " + key + "=" + value, s)};
    }
  }
  ucp_params_t params{};
  params.field_mask =
      UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED | UCP_PARAM_FIELD_NAME;
  params.features = UCP_FEATURE_RMA | UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 1;
  params.name = "nixl-ts";
  ctx_ = std::make_shared<Context>();
  s = ucp_init(&params, config, &ctx_->handle);
  context_ = ctx_->handle;
  ucp_config_release(config);
  if (s != UCS_OK) FailUcx("ucp_init", s);

  try {
    for (unsigned i = 0; i < opts_.numWorkers; ++i) {
      auto w = std::make_unique<Worker>();
      w->engine = this;
      w->index = i;
      ucp_worker_params_t wp{};
      wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
      wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;
      s = ucp_worker_create(context_, &wp, &w->handle);
      if (s != UCS_OK) FailUcx("ucp_worker_create", s);
      workers_.push_back(std::move(w));
      Worker& wr = *workers_.back();
      s = ucp_worker_get_efd(wr.handle, &wr.efd);
      if (s != UCS_OK) FailUcx("ucp_worker_get_efd", s);
      ucp_address_t* addr = nullptr;
      size_t addrLen = 0;
      s = ucp_worker_get_address(wr.handle, &addr, &addrLen);
      if (s != UCS_OK) FailUcx("ucp_worker_get_address", s);
      auto* bytes = reinterpret_cast<const uint8_t*>(addr);
      wr.address.assign(bytes, bytes + addrLen);
      ucp_worker_release_address(wr.handle, addr);
      for (unsigned id : {kAmNotif, kAmRevoke, kAmHello, kAmNotifAcked, kAmNotifAck, kAmHelloAnswer,
                          kAmHelloQuery}) {
        ucp_am_handler_param_t hp{};
        hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                        UCP_AM_HANDLER_PARAM_FIELD_ARG;
        hp.id = id;
        hp.arg = this;
        switch (id) {
          case kAmNotif:
            hp.cb = NotifAmCb;
            break;
          case kAmRevoke:
            hp.cb = RevokeAmCb;
            break;
          case kAmHello:
            hp.cb = HelloAmCb;
            hp.arg = &wr;
            break;
          case kAmHelloQuery:
            hp.cb = HelloQueryAmCb;
            hp.arg = &wr;
            break;
          case kAmNotifAcked:
            hp.cb = NotifAckedAmCb;
            hp.arg = &wr;
            break;
          case kAmHelloAnswer:
            hp.cb = HelloAnswerAmCb;
            hp.arg = &wr;
            break;
          default:
            hp.cb = NotifAckAmCb;
            hp.arg = &wr;
        }
        s = ucp_worker_set_am_recv_handler(wr.handle, &hp);
        if (s != UCS_OK) FailUcx("ucp_worker_set_am_recv_handler", s);
      }
    }
    std::vector<uint8_t> self = ConnInfo();
    selfPeer_ = MakePeer(opts_.agentName, self.data(), self.size(), true);
    peers_[selfPeer_->id] = selfPeer_;
  } catch (...) {
    Close();
    throw;
  }
}

UcxEngine::~UcxEngine() { Close(); }

std::vector<uint8_t> UcxEngine::ConnInfo() const {
  std::vector<std::vector<uint8_t>> addrs;
  for (const auto& w : workers_) addrs.push_back(w->address);
  return EncodeConnInfo(addrs, self_, keys_);
}

std::shared_ptr<Peer> UcxEngine::MakePeer(const std::string& name, const uint8_t* connInfo,
                                          size_t len, bool self) {
  PeerConnInfo ci;
  if (!DecodeConnInfo(connInfo, len, &ci)) {
    Fail(kErrInvalidParam, "connection info of agent '" + name + "' is not UCX worker addresses");
  }
  if (ci.version < kConnVersion) {
    std::string why = ci.version < 3    ? "which sends unauthenticated messages"
                      : ci.version == 3 ? "whose session HELLOs can be replayed"
                                        : "whose refused session HELLOs get no answer";
    Fail(kErrMismatch, "agent '" + name + "' speaks UCX wire version " +
                           std::to_string(ci.version) + ", " + why + "; this agent needs version " +
                           std::to_string(kConnVersion) + " (update nixl-ts there)");
  }
  const std::vector<std::vector<uint8_t>>& addrs = ci.addrs;
  const ProcessIdentity& who = ci.who;
  auto peer = std::make_shared<Peer>();
  peer->id = nextPeer_++;
  clocks_.push_back(std::make_unique<PeerClock>());
  peer->clock = clocks_.back().get();
  peer->name = name;
  peer->self = self;
  if (!self && opts_.errorMode == ErrorMode::kProcess && who.SameNamespaceAs(self_)) {
    int fd = OpenProcessWatch(who);
    if (fd == -1) {
      Fail(kErrRemoteDisconnect, "agent '" + name + "' (process " + std::to_string(who.pid) +
                                     " on this host) has exited");
    }
    peer->pidfd = fd;  // -2: no pidfds here, so UCX's error handling instead
    peer->pid = who.pid;
  }
  peer->errHandling = opts_.errorMode == ErrorMode::kPeer ||
                      (opts_.errorMode == ErrorMode::kProcess && !self && peer->pidfd < 0);
  peer->remoteWorkers = addrs.size();
  peer->gates.resize(workers_.size());
  peer->flushes.resize(workers_.size());
  peer->sessions.resize(workers_.size());
  peer->hellos.resize(workers_.size());
  std::memcpy(peer->identityKey, ci.identityKey, kKeySize);
  std::memcpy(peer->exchangeKey, ci.exchangeKey, kKeySize);
  for (unsigned i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    // The endpoint's session (none toward this agent itself: its own
    // messages never cross the wire); its HELLO goes out with the first
    // tagged message (SessionState).
    if (!self) {
      peer->hellos[i].next = MakeHello(keys_, opts_.agentName, peer->exchangeKey, nextHelloStamp_++,
                                       &peer->sessions[i]);
    }
    // Local worker i talks to remote worker i mod n; the remote side does the same.
    const std::vector<uint8_t>& remote = addrs[i % addrs.size()];
    auto ctx = std::make_unique<EpCtx>(EpCtx{this, peer, i});
    ucp_ep_params_t ep{};
    ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    ep.address = reinterpret_cast<const ucp_address_t*>(remote.data());
    if (peer->errHandling) {
      ep.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
      ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
      ep.err_handler.cb = [](void* arg, ucp_ep_h, ucs_status_t status) {
        auto* c = static_cast<EpCtx*>(arg);
        c->engine->OnPeerError(c->peer, c->worker, status);
      };
      ep.err_handler.arg = ctx.get();
    }
    ucp_ep_h h = nullptr;
    ucs_status_t s;
    {
      std::lock_guard<std::mutex> lock(w.mu);
      s = ucp_ep_create(w.handle, &ep, &h);
      if (s == UCS_OK) {
        peer->eps.push_back(h);
        SendHandshake(w, *peer, ctx.get());
      }
    }
    if (s != UCS_OK) {
      CloseEps(*peer);
      std::string what = "ucp_ep_create to agent '" + name + "'";
      // Unreachable at creation means no configured transport can reach it.
      if (s == UCS_ERR_UNREACHABLE) {
        Fail(kErrNotSupported,
             UcxMessage(what, s) + "; none of the configured transports reaches it");
      }
      FailUcx(what, s);
    }
    epCtxs_.push_back(std::move(ctx));
    AfterPost(w);
  }
  // Sessions of this agent's opened before we loaded its metadata were told
  // to ask for acknowledgements on UCX reply endpoints, which a later reload
  // of ours would break: tell them we acknowledge on these endpoints now.
  if (!self && peer->remoteWorkers == workers_.size()) {
    std::vector<std::vector<uint8_t>> answers = auth_.AcceptancesFor(name);
    for (unsigned i = 0; i < workers_.size() && !answers.empty(); ++i) {
      Worker& w = *workers_[i];
      {
        std::lock_guard<std::mutex> lock(w.mu);
        for (const std::vector<uint8_t>& a : answers) {
          SendAmBuffer(peer->eps[i], kAmHelloAnswer, new AmBuffer{{}, a});
        }
      }
      AfterPost(w);
    }
  }
  return peer;
}

// Why every endpoint starts with a handshake. UCX 1.13's tcp transport crashes
// (SIGSEGV at 0xfffffffffffffff8 on the receiving side) when the first
// wireup request of an endpoint its receiver cannot match to one of its own
// arrives in the same socket read as more data of that endpoint:
// uct_tcp_ep_progress_am_rx (src/uct/tcp/tcp_ep.c) hands the request to
// ucp_wireup_process_request (src/ucp/wireup/wireup.c), which creates an
// internal endpoint ("remote-request") whose uct_tcp_ep_connect
// (tcp_ep.c) takes over the very socket being read with
// uct_tcp_ep_replace_ep, moving its unread data away; back in the receive
// loop, uct_tcp_ep_ctx_reset (tcp_ep.c:1451) returns the now NULL buffer to
// its memory pool. A peer that never loaded our metadata, or one whose
// endpoints were made before ours were remade (metadata reloaded, peer
// restarted), cannot match ours. The request goes out with the first active
// message or software RMA on an endpoint, and puts/gets on other lanes follow
// it at once. So the first message on every endpoint is an empty active
// message, which UCX holds until the wireup reply is back, and transfers on
// that endpoint wait until it has been sent: by then the peer has processed
// the request and nothing of ours can be behind it in its socket.
void UcxEngine::SendHandshake(Worker& w, Peer& peer, EpCtx* ctx) {
  EpGate& gate = peer.gates[w.index];
  auto sent = [](void* request, ucs_status_t, void* userData) {
    ucp_request_free(request);
    auto* c = static_cast<EpCtx*>(userData);
    // A failed handshake leaves the endpoint to its error callback; the
    // transfers it held fail on their own.
    c->engine->OnHelloSent(c->peer, c->worker);
  };
  // Empty, so that UCX sends it at once on shared memory (an active message
  // of 96 bytes or more returns a request there, and the gate would then stay
  // closed until progress: a put posted meanwhile would not copy inside
  // postXferReq, which errorHandling 'process' relies on).
  ucp_request_param_t p = EagerAmParams(sent, ctx);
  ucs_status_ptr_t r = ucp_am_send_nbx(peer.eps[w.index], kAmHello, nullptr, 0, nullptr, 0, &p);
  if (r == nullptr || UCS_PTR_IS_ERR(r)) gate.ready = true;
}

// The endpoint's authenticated session (am_auth.h) opens with its HELLO, sent
// just before the first tagged message, so that a transfer without messages
// never waits for it. The tagged messages wait until the target accepts it
// (its answer comes on the reply endpoint UCX gives it); a transfer's puts,
// gets and flushes never do.
EpHello::State UcxEngine::SessionState(Worker& w, const std::shared_ptr<Peer>& peer) {
  EpHello& h = peer->hellos[w.index];
  if (h.state == EpHello::State::kUnsent) SendHello(w, peer);
  return h.state;
}

void UcxEngine::SendHello(Worker& w, const std::shared_ptr<Peer>& peer) {
  EpHello& h = peer->hellos[w.index];
  SendSession& session = peer->sessions[w.index];
  if (h.next.empty()) {
    try {
      h.next = MakeHello(keys_, opts_.agentName, peer->exchangeKey, nextHelloStamp_++, &session);
    } catch (const std::exception& e) {
      FailSession(w, *peer, e.what());
      MarkFailed(peer, e.what());
      return;
    }
  }
  // The HELLO, then the query that asks for the answer on a reply endpoint
  // (wire.h). A send that failed leaves the endpoint to its error callback;
  // the retry then finds the peer failed or gives up at timeout_ms.
  SendAmBuffer(peer->eps[w.index], kAmHello, new AmBuffer{{}, std::move(h.next)});
  h.next.clear();
  auto* query = new AmBuffer{{}, MakeHelloQuery(session.id, opts_.agentName)};
  ucp_request_param_t p = EagerAmParams(AmBufferSentCb, query);
  p.flags |= UCP_AM_SEND_FLAG_REPLY;
  ucs_status_ptr_t r = ucp_am_send_nbx(peer->eps[w.index], kAmHelloQuery, nullptr, 0,
                                       query->data.data(), query->data.size(), &p);
  if (r == nullptr || UCS_PTR_IS_ERR(r)) delete query;
  const int64_t now = SteadyNs();
  if (h.firstSentNs == 0) h.firstSentNs = now;
  h.state = EpHello::State::kAwaiting;
  h.retryAtNs = now + (kAnswerWaitMs + h.backoffMs) * 1'000'000;
  w.awaitingHello[session.id] = peer;
  KeepEarliest(w.helloRetryAtNs, h.retryAtNs);
}

void UcxEngine::OnHelloAm(Worker& w, const void* data, size_t len) {
  const auto* body = static_cast<const uint8_t*>(data);
  std::string_view name;
  if (closing() || !HelloSender(body, len, &name)) return;
  // Accepted, from an agent whose metadata is loaded: the answer also goes
  // on our own endpoint to it, in case the query's reply endpoint is gone
  // (wire.h), and says that notification acknowledgements will too.
  std::shared_ptr<Peer> peer = OwnEndpointPeer(w, name);
  std::vector<uint8_t> answer;
  if (!auth_.OnHello(body, len, &answer, peer != nullptr) || peer == nullptr) return;
  SendAmBuffer(peer->eps[w.index], kAmHelloAnswer, new AmBuffer{{}, std::move(answer)});
}

std::shared_ptr<Peer> UcxEngine::OwnEndpointPeer(Worker& w, std::string_view name) {
  std::shared_ptr<Peer> peer;
  {
    std::lock_guard<std::mutex> lock(byNameMu_);
    auto it = byName_.find(std::string(name));
    if (it != byName_.end()) peer = it->second;
  }
  // Our worker i talks to its worker i, the one that sent to our worker i if
  // both have as many workers (else only reply endpoints can answer it).
  // Inside w's progress, under its mutex (which guards peer->eps[w.index]).
  if (peer == nullptr || peer->closed.load() || peer->failStatus.load() != 0 ||
      peer->remoteWorkers != workers_.size() || w.index >= peer->eps.size() ||
      peer->eps[w.index] == nullptr) {
    return nullptr;
  }
  return peer;
}

void UcxEngine::OnHelloQueryAm(Worker& w, const void* data, size_t len,
                               const ucp_am_recv_param_t* param) {
  if (closing() || (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) == 0) return;
  const auto* body = static_cast<const uint8_t*>(data);
  std::string_view name;
  if (!HelloQuerySender(body, len, &name)) return;
  std::vector<uint8_t> answer;
  if (!auth_.OnHelloQuery(body, len, &answer, OwnEndpointPeer(w, name) != nullptr)) return;
  // Inside the receiving worker's progress, under its mutex.
  SendAmBuffer(param->reply_ep, kAmHelloAnswer, new AmBuffer{{}, std::move(answer)});
}

void UcxEngine::OnHelloAnswerAm(Worker& w, const void* data, size_t len) {
  uint64_t id = 0;
  const auto* body = static_cast<const uint8_t*>(data);
  if (closing() || !HelloAnswerSession(body, len, &id)) return;
  auto it = w.awaitingHello.find(id);
  if (it == w.awaitingHello.end()) {
    // An open session's: the target now acknowledges on its own endpoints.
    auto open = w.openSessions.find(id);
    std::shared_ptr<Peer> peer = open == w.openSessions.end() ? nullptr : open->second.lock();
    if (peer == nullptr || peer->closed.load()) return;  // an earlier HELLO's, or not ours
    // Only ever to "yes": a late copy of the first acceptance says no.
    SendSession& session = peer->sessions[w.index];
    const bool before = session.acksOnTargetEndpoint;
    bool accepted = false;
    uint32_t retryAfterMs = 0;
    ReadHelloAnswer(&session, peer->name, opts_.agentName, body, len, &accepted, &retryAfterMs);
    session.acksOnTargetEndpoint = session.acksOnTargetEndpoint || before;
    return;
  }
  std::shared_ptr<Peer> peer = it->second;
  EpHello& h = peer->hellos[w.index];
  bool accepted = false;
  uint32_t retryAfterMs = 0;
  if (!ReadHelloAnswer(&peer->sessions[w.index], peer->name, opts_.agentName, body, len, &accepted,
                       &retryAfterMs)) {
    return;
  }
  if (accepted) {
    OpenSession(w, peer);
    return;
  }
  // Refused: a new HELLO after the target's hint (capped: it is not
  // authenticated) or the backoff with jitter, whichever is later.
  h.backoffMs = std::max(h.backoffMs, kMinBackoffMs);
  uint32_t jitter = static_cast<uint32_t>(id % (h.backoffMs / 2 + 1));
  uint32_t waitMs = std::max(std::min(retryAfterMs, kMaxBackoffMs), h.backoffMs + jitter);
  h.retryAtNs = SteadyNs() + int64_t(waitMs) * 1'000'000;
  KeepEarliest(w.helloRetryAtNs, h.retryAtNs);
}

void UcxEngine::OpenSession(Worker& w, const std::shared_ptr<Peer>& peer) {
  EpHello& h = peer->hellos[w.index];
  w.awaitingHello.erase(peer->sessions[w.index].id);
  h.state = EpHello::State::kOpen;
  // Entries of dropped peers go when the map has doubled since the last sweep.
  if (w.openSessions.size() >= w.openSessionsSwept * 2 + 64) {
    std::erase_if(w.openSessions, [](const auto& e) {
      std::shared_ptr<Peer> p = e.second.lock();
      return p == nullptr || p->closed.load();
    });
    w.openSessionsSwept = w.openSessions.size();
  }
  w.openSessions[peer->sessions[w.index].id] = peer;
  peer->clock->Touch();
  std::deque<HeldAm> held;
  held.swap(h.held);
  h.heldBytes = 0;
  for (HeldAm& m : held) {
    if (m.x != nullptr) {
      if (m.x->inFlight) SendNotif(w, m.x);
      continue;
    }
    auto* buf = new AmBuffer{{}, std::move(m.body)};
    TagHeader(m.id, &peer->sessions[w.index], opts_.agentName, peer->name, buf->data.data(),
              buf->data.size(), &buf->header);
    SendAmBuffer(peer->eps[w.index], m.id, buf);
  }
}

void UcxEngine::RetryHellos(Worker& w) {
  if (w.helloRetryAtNs == 0) return;
  const int64_t now = SteadyNs();
  if (now < w.helloRetryAtNs) return;
  std::vector<std::shared_ptr<Peer>> due;
  int64_t next = 0;
  for (auto& [id, peer] : w.awaitingHello) {
    int64_t at = peer->hellos[w.index].retryAtNs;
    if (at <= now) {
      due.push_back(peer);
    } else {
      KeepEarliest(next, at);
    }
  }
  w.helloRetryAtNs = next;
  for (const std::shared_ptr<Peer>& peer : due) {
    EpHello& h = peer->hellos[w.index];
    w.awaitingHello.erase(peer->sessions[w.index].id);
    if (peer->eps[w.index] == nullptr || closing()) continue;
    const int64_t limit = int64_t(opts_.timeoutMs) * 1'000'000;
    if (limit != 0 && now - h.firstSentNs >= limit) {
      // timeout_ms, as for a transfer that does not move: fail, never drop silently.
      std::string msg = "agent '" + peer->name + "' did not accept this agent's session within " +
                        std::to_string(opts_.timeoutMs) +
                        " ms (its HELLOs refused or unanswered: a HELLO flood there, or this "
                        "agent's name bound there to another key)";
      FailSession(w, *peer, msg);
      MarkFailed(peer, msg);
      continue;
    }
    h.backoffMs = std::min(std::max(h.backoffMs * 2, kMinBackoffMs), kMaxBackoffMs);
    hellosRetried_.fetch_add(1, std::memory_order_relaxed);
    SendHello(w, peer);  // a new HELLO: new key E, new stamp, new session
  }
}

std::string UcxEngine::HeldFull(Worker& w, const Peer& peer, size_t len) const {
  const EpHello& h = peer.hellos[w.index];
  if (h.state == EpHello::State::kOpen) return "";
  if (h.held.size() < kMaxHeldMessages && h.heldBytes + len <= kMaxHeldBytes) return "";
  return "agent '" + peer.name + "' has not accepted this agent's session yet, and " +
         std::to_string(h.held.size()) + " messages (" + std::to_string(h.heldBytes) +
         " bytes) to it already wait for that (at most " + std::to_string(kMaxHeldMessages) +
         " messages and " + std::to_string(kMaxHeldBytes >> 20) +
         " MiB per endpoint): nothing was sent; try again once it accepts (a HELLO flood "
         "there, or this agent's name bound there to another key)";
}

void UcxEngine::FailSession(Worker& w, Peer& peer, const std::string& error) {
  EpHello& h = peer.hellos[w.index];
  if (h.state == EpHello::State::kAwaiting) w.awaitingHello.erase(peer.sessions[w.index].id);
  h.state = EpHello::State::kFailed;
  std::deque<HeldAm> held;
  held.swap(h.held);
  h.heldBytes = 0;
  for (HeldAm& m : held) {
    if (m.x != nullptr && m.x->inFlight) Settle(m.x, kErrRemoteDisconnect, error);
  }
}

AuthCounters UcxEngine::authCounters() {
  AuthCounters c = auth_.counters();
  c.hellosRetried = hellosRetried_.load(std::memory_order_relaxed);
  return c;
}

void UcxEngine::OnHelloSent(const std::shared_ptr<Peer>& peer, unsigned worker) {
  // Called inside ucp_worker_progress (or ucp_ep_close_nbx), under the worker's mutex.
  if (closing()) return;
  EpGate& gate = peer->gates[worker];
  gate.ready = true;
  Worker& w = *workers_[worker];
  w.unblocked.insert(w.unblocked.end(), gate.waiting.begin(), gate.waiting.end());
  gate.waiting.clear();
}

uint32_t UcxEngine::LoadPeer(const std::string& name, const uint8_t* connInfo, size_t len) {
  auto peer = MakePeer(name, connInfo, len, false);
  // The metadata is the authority on the name's key (am_auth.h).
  auth_.BindFromMetadata(name, peer->identityKey);
  peers_[peer->id] = peer;
  {
    std::lock_guard<std::mutex> lock(byNameMu_);
    byName_[name] = peer;
  }
  if (peer->pidfd >= 0) WatchProcess(*peer);
  return peer->id;
}

void UcxEngine::CloseEps(Peer& peer, bool force) {
  peer.closed.store(true, std::memory_order_release);
  for (size_t i = 0; i < peer.eps.size(); ++i) {
    if (peer.eps[i] == nullptr) continue;
    Worker& w = *workers_[i];
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    // A failed endpoint can only be force-closed; a healthy one is flushed
    // first. Force needs peer error handling on both sides (UCX's rule).
    p.flags =
        (force || peer.failStatus.load() != 0) && peer.errHandling ? UCP_EP_CLOSE_FLAG_FORCE : 0;
    {
      std::lock_guard<std::mutex> lock(w.mu);
      ucs_status_ptr_t r = ucp_ep_close_nbx(peer.eps[i], &p);
      if (r != nullptr && !UCS_PTR_IS_ERR(r)) {
        // Closing toward an exited process (no UCX error handling, so no
        // force) may never finish: let UCX free it if it does, and do not
        // keep progress spinning for it.
        if (peer.exited) {
          ucp_request_free(r);
        } else {
          w.closing.push_back(r);
        }
      }
      peer.eps[i] = nullptr;
      FailSession(w, peer,
                  "the connection to agent '" + peer.name +
                      "' was closed before it accepted this agent's session");
      FailAwaitingAck(w, peer,
                      "the connection to agent '" + peer.name +
                          "' was closed before it acknowledged the notification");
      // Transfers still waiting for the handshake never reach the wire.
      EpGate& gate = peer.gates[i];
      gate.ready = true;
      for (Xfer* x : gate.waiting) {
        if (x->inFlight) {
          Settle(x, kErrRemoteDisconnect, "the connection to agent '" + peer.name + "' was closed");
        }
      }
      gate.waiting.clear();
    }
    AfterPost(w);
  }
}

void UcxEngine::DropPeer(uint32_t peerId) {
  auto it = peers_.find(peerId);
  if (it == peers_.end() || it->second->self) return;
  std::shared_ptr<Peer> peer = it->second;
  peers_.erase(it);
  {
    std::lock_guard<std::mutex> lock(byNameMu_);
    auto named = byName_.find(peer->name);
    if (named != byName_.end() && named->second == peer) byName_.erase(named);
  }
  UnwatchProcess(*peer);
  CloseEps(*peer);
}

int UcxEngine::PeerStatus(uint32_t peerId, std::string* message) {
  auto it = peers_.find(peerId);
  if (it == peers_.end()) {
    if (message) *message = "unknown peer";
    return kErrNotFound;
  }
  int st = it->second->failStatus.load();
  if (st != 0 && message) {
    std::lock_guard<std::mutex> lock(it->second->failMu);
    *message = it->second->failMessage;
  }
  return st;
}

std::shared_ptr<Allocation> UcxEngine::Allocate(uint64_t len) {
  if (len == 0) Fail(kErrInvalidParam, "cannot allocate zero bytes with UCX");
  auto a = std::make_shared<Allocation>();
  a->ctx = ctx_;
  ucp_mem_map_params_t mp{};
  mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                  UCP_MEM_MAP_PARAM_FIELD_FLAGS;
  mp.address = nullptr;
  mp.length = len;
  mp.flags = UCP_MEM_MAP_ALLOCATE;
  ucs_status_t s = ucp_mem_map(context_, &mp, &a->memh);
  if (s != UCS_OK) {
    a->memh = nullptr;
    FailUcx("ucp_mem_map (allocate " + std::to_string(len) + " bytes)", s);
  }
  ucp_mem_attr_t attr{};
  attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS | UCP_MEM_ATTR_FIELD_LENGTH;
  s = ucp_mem_query(a->memh, &attr);
  if (s != UCS_OK) FailUcx("ucp_mem_query", s);
  a->addr = reinterpret_cast<uint64_t>(attr.address);
  a->len = len;
  std::memset(attr.address, 0, len);
  std::erase_if(allocations_, [](const std::weak_ptr<Allocation>& w) { return w.expired(); });
  allocations_.push_back(a);
  return a;
}

std::shared_ptr<LocalRegion> UcxEngine::Register(uint64_t addr, uint64_t len) {
  if (len == 0) Fail(kErrInvalidParam, "cannot map a zero-length region with UCX");
  auto r = std::make_shared<LocalRegion>();
  r->engine = this;
  r->addr = addr;
  r->len = len;
  for (const auto& weak : allocations_) {
    auto a = weak.lock();
    if (a && addr >= a->addr && addr + len <= a->addr + a->len) {
      r->allocation = a;
      r->memh = a->memh;
      break;
    }
  }
  if (!r->allocation) {
    ucp_mem_map_params_t mp{};
    mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
    mp.address = reinterpret_cast<void*>(addr);
    mp.length = len;
    ucs_status_t s = ucp_mem_map(context_, &mp, &r->memh);
    if (s != UCS_OK) {
      r->memh = nullptr;
      FailUcx("ucp_mem_map", s);
    }
  }
  ucs_status_t s;
  void* rkey = nullptr;
  size_t rkeyLen = 0;
  s = ucp_rkey_pack(context_, r->memh, &rkey, &rkeyLen);
  if (s != UCS_OK) FailUcx("ucp_rkey_pack", s);
  r->regionId = regionIdBase_ | (++regionCounter_ & 0xffffffffull);
  r->publicData = EncodePublicData(r->regionId, opts_.notifAck ? kRegionAcksNotifs : 0,
                                   static_cast<const uint8_t*>(rkey), rkeyLen);
  ucp_rkey_buffer_release(rkey);
  r->handle = nextHandle_++;
  locals_[r->handle] = r;
  return r;
}

void UcxEngine::Deregister(uint32_t handle) {
  auto it = locals_.find(handle);
  if (it == locals_.end()) {
    Fail(kErrNotFound, "region handle " + std::to_string(handle) + " is not registered");
  }
  uint64_t regionId = it->second->regionId;
  locals_.erase(it);
  // Tell every connected peer that its rkey is void, so that its later
  // READ/WRITE fails on its side (UCX over tcp/shm does not check rkeys at the
  // target). The memory is unmapped once no prepared transfer refers to it.
  std::vector<uint8_t> body(8);
  std::memcpy(body.data(), &regionId, 8);
  for (auto& [id, peer] : peers_) {
    if (peer->self || peer->failStatus.load() != 0 || peer->eps.empty()) continue;
    SendAm(*workers_[0], peer, kAmRevoke, body.data(), body.size());
  }
  // Our own loopback view of this region (loadLocalMD) is revoked directly.
  std::lock_guard<std::mutex> lock(revokeMu_);
  auto range = byRegionId_.equal_range(regionId);
  for (auto r = range.first; r != range.second; ++r) {
    if (r->second->peer->self) r->second->revoked.store(true, std::memory_order_release);
  }
}

std::shared_ptr<RemoteRegion> UcxEngine::LoadRemote(uint32_t peerId, const uint8_t* pub,
                                                    size_t len) {
  auto it = peers_.find(peerId);
  if (it == peers_.end()) Fail(kErrNotFound, "no connection info loaded for this peer");
  std::shared_ptr<Peer> peer = it->second;
  uint64_t regionId = 0;
  uint8_t flags = 0;
  const uint8_t* rkeyBuf = nullptr;
  size_t rkeyLen = 0;
  if (!DecodePublicData(pub, len, &regionId, &flags, &rkeyBuf, &rkeyLen)) {
    Fail(kErrInvalidParam,
         "public data of a region of agent '" + peer->name + "' is not a UCX rkey");
  }
  if (peer->closed.load()) Fail(kErrRemoteDisconnect, "agent '" + peer->name + "' is disconnected");
  auto r = std::make_shared<RemoteRegion>();
  r->engine = this;
  r->regionId = regionId;
  r->acksNotifs = (flags & kRegionAcksNotifs) != 0;
  r->peer = peer;
  r->rkeys.assign(workers_.size(), nullptr);
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    ucs_status_t s;
    {
      std::lock_guard<std::mutex> lock(w.mu);
      s = ucp_ep_rkey_unpack(peer->eps[i], rkeyBuf, &r->rkeys[i]);
    }
    if (s != UCS_OK) {
      r->rkeys[i] = nullptr;
      FailUcx("ucp_ep_rkey_unpack for agent '" + peer->name + "'", s);
    }
  }
  r->handle = nextHandle_++;
  remotes_[r->handle] = r;
  std::lock_guard<std::mutex> lock(revokeMu_);
  byRegionId_.emplace(regionId, r.get());
  return r;
}

std::shared_ptr<RemoteRegion> UcxEngine::LoadLocal(uint32_t localHandle) {
  auto it = locals_.find(localHandle);
  if (it == locals_.end()) Fail(kErrNotFound, "region handle is not registered");
  const auto& pub = it->second->publicData;
  return LoadRemote(selfPeer_->id, pub.data(), pub.size());
}

void UcxEngine::Unload(uint32_t handle) { remotes_.erase(handle); }

uint32_t UcxEngine::Prep(bool read, uint32_t peerId, size_t count, const double* laddrs,
                         const double* lens, const uint32_t* lregions, const double* raddrs,
                         const uint32_t* rregions, uint32_t slotIndex, int32_t* slot,
                         int workerHint) {
  auto pit = peers_.find(peerId);
  if (pit == peers_.end()) Fail(kErrNotFound, "no connection to this agent");
  auto x = std::make_unique<Xfer>();
  x->engine = this;
  x->read = read;
  x->peer = pit->second;
  x->slotIndex = slotIndex;
  x->slot = slot;
  if (workerHint >= 0) {
    if (static_cast<unsigned>(workerHint) >= workers_.size()) {
      Fail(kErrInvalidParam, "worker_id " + std::to_string(workerHint) +
                                 " is out of range (numWorkers " + std::to_string(workers_.size()) +
                                 ")");
    }
    x->worker = static_cast<unsigned>(workerHint);
  } else {
    x->worker = roundRobin_++ % workers_.size();
  }
  x->ops.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto l = locals_.find(lregions[i]);
    auto which = [i] { return "descriptor " + std::to_string(i); };
    if (l == locals_.end()) Fail(kErrNotFound, "local " + which() + ": region not registered");
    auto r = remotes_.find(rregions[i]);
    if (r == remotes_.end()) Fail(kErrNotFound, "remote " + which() + ": region not loaded");
    if (r->second->peer != x->peer) {
      Fail(kErrInvalidParam, "remote " + which() + " belongs to another agent");
    }
    if (x->locals.empty() || x->locals.back() != l->second) x->locals.push_back(l->second);
    if (x->remotes.empty() || x->remotes.back() != r->second) x->remotes.push_back(r->second);
    if (lens[i] == 0) continue;
    // Pieces of at most kMaxOpBytes: each completion tells timeout_ms that
    // the peer is moving data.
    const uint64_t total = static_cast<uint64_t>(lens[i]);
    for (uint64_t off = 0; off < total; off += kMaxOpBytes) {
      XferOp op;
      op.local = static_cast<uint64_t>(laddrs[i]) + off;
      op.remote = static_cast<uint64_t>(raddrs[i]) + off;
      op.len = static_cast<size_t>(std::min(total - off, kMaxOpBytes));
      op.memh = l->second->memh;
      op.rkey = r->second->rkeys[x->worker];
      x->ops.push_back(op);
    }
  }
  if (x->locals.empty()) Fail(kErrInvalidParam, "a transfer needs at least one descriptor");
  x->ackNotif = opts_.notifAck;
  for (const auto& r : x->remotes) x->ackNotif = x->ackNotif && r->acksNotifs;
  x->id = nextXfer_++;
  if (nextXfer_ == 0) nextXfer_ = 1;
  Xfer* raw = x.release();
  xfers_[raw->id] = raw;
  return raw->id;
}

int UcxEngine::Post(uint32_t xferId, uint32_t gen, const uint8_t* notif, size_t notifLen,
                    bool hasNotif, std::string* error) {
  auto it = xfers_.find(xferId);
  if (it == xfers_.end()) {
    *error = "unknown or released transfer";
    return kErrNotFound;
  }
  Xfer* x = it->second;
  Peer& peer = *x->peer;
  if (peer.closed.load() || peer.failStatus.load() != 0) {
    std::lock_guard<std::mutex> lock(peer.failMu);
    *error = "agent '" + peer.name + "' is disconnected" +
             (peer.failMessage.empty() ? "" : " (" + peer.failMessage + ")");
    return kErrRemoteDisconnect;
  }
  for (const auto& r : x->remotes) {
    if (r->revoked.load(std::memory_order_acquire)) {
      *error = "agent '" + peer.name + "' deregistered a region this transfer targets";
      return kErrNotFound;
    }
  }
  Worker& w = *workers_[x->worker];
  int result;
  {
    std::lock_guard<std::mutex> lock(w.mu);
    if (x->inFlight) {
      *error = "the transfer is still in progress";
      return kErrRepostActive;
    }
    if (hasNotif) {
      *error = HeldFull(w, peer, notifLen + (x->ackNotif ? 8 : 0));
      if (!error->empty()) return kErrNotAllowed;
    }
    x->gen = gen;
    x->hasNotif = hasNotif;
    if (hasNotif) {
      // With an acknowledgement, the token goes first (FinishFlushed writes it).
      const size_t at = x->ackNotif ? 8 : 0;
      x->notif.resize(at + notifLen);
      if (notifLen > 0) std::memcpy(x->notif.data() + at, notif, notifLen);
    }
    x->error.clear();
    x->inFlight = true;
    if (peer.clock->inflight.fetch_add(1) == 0) peer.clock->Touch();
    StatusSlots::Store(x->slot, kInProg);
    EpGate& gate = peer.gates[x->worker];
    x->posting = true;
    if (gate.ready) {
      Start(w, x);
    } else {
      gate.waiting.push_back(x);
    }
    PushPosted(w);
    x->posting = false;
    result = *x->slot;
    if (result < 0) *error = x->error;
  }
  // A transfer that completed inside this call (shared-memory copies) left
  // nothing for the progress thread; waking it would only cost a system call.
  if (result != kSuccess) KickProgress(w);
  return result;
}

void UcxEngine::Start(Worker& w, Xfer* x) {
  ucp_ep_h ep = x->peer->eps[w.index];
  x->opsPending = 0;
  x->flushDone = false;
  x->failStatus = 0;
  bool failed = false;
  for (const XferOp& op : x->ops) {
    // Every op that UCX cannot finish at once reports its status (RmaDoneCb):
    // the flush alone does not say whether each op succeeded. An op finished
    // at once (shared memory) returns no request and costs no callback.
    ucp_request_param_t p{};
    p.op_attr_mask =
        UCP_OP_ATTR_FIELD_MEMH | UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.memh = op.memh;
    p.cb.send = RmaDoneCb;
    p.user_data = x;
    void* buf = reinterpret_cast<void*>(op.local);
    ucs_status_ptr_t r = x->read ? ucp_get_nbx(ep, buf, op.len, op.remote, op.rkey, &p)
                                 : ucp_put_nbx(ep, buf, op.len, op.remote, op.rkey, &p);
    if (UCS_PTR_IS_ERR(r)) {
      ucs_status_t st = UCS_PTR_STATUS(r);
      NoteFailure(x, ToNixlStatus(st), UcxMessage(x->read ? "ucp_get_nbx" : "ucp_put_nbx", st));
      failed = true;
      break;
    }
    if (r == nullptr) {
      if (op.len >= kWatchedOpBytes) x->peer->clock->Touch();
    } else {
      x->opsPending++;
    }
  }
  if (failed) {
    // No flush: the transfer settles with the op's error once the ops already
    // issued have called back (they point at it until then).
    x->flushDone = true;
    MaybeSettle(w, x);
  } else {
    RequestFlush(w, x);
  }
}

void UcxEngine::RequestFlush(Worker& w, Xfer* x) {
  EpFlush& f = x->peer->flushes[w.index];
  if (f.inFlight) {
    f.next.push_back(x);
    return;
  }
  IssueFlush(w, x->peer, {x});
}

void UcxEngine::IssueFlush(Worker& w, const std::shared_ptr<Peer>& peer, std::vector<Xfer*> xfers) {
  ucp_ep_h ep = peer->eps[w.index];
  if (ep == nullptr) {
    for (Xfer* x : xfers) {
      if (!x->inFlight) continue;
      NoteFailure(x, kErrRemoteDisconnect,
                  "the connection to agent '" + peer->name + "' was closed before the flush");
      x->flushDone = true;
      MaybeSettle(w, x);
    }
    return;
  }
  auto* g = new FlushGroup{this, peer, w.index, std::move(xfers)};
  ucp_request_param_t fp{};
  fp.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  fp.cb.send = FlushCb;
  fp.user_data = g;
  ucs_status_ptr_t r = ucp_ep_flush_nbx(ep, &fp);
  if (r == nullptr) {
    for (Xfer* x : g->xfers) {
      if (!x->inFlight) continue;
      x->flushDone = true;
      // Usually every op finished at once too: go on inside this call.
      if (x->opsPending == 0 && x->failStatus == 0) {
        FinishFlushed(w, x);
      } else {
        MaybeSettle(w, x);
      }
    }
    delete g;
  } else if (UCS_PTR_IS_ERR(r)) {
    ucs_status_t st = UCS_PTR_STATUS(r);
    for (Xfer* x : g->xfers) {
      if (!x->inFlight) continue;
      NoteFailure(x, ToNixlStatus(st), UcxMessage("ucp_ep_flush_nbx", st));
      x->flushDone = true;
      MaybeSettle(w, x);
    }
    delete g;
  } else {
    peer->flushes[w.index].inFlight = true;
    flushesInFlight_.fetch_add(1);
  }
}

void UcxEngine::OnGroupFlushed(FlushGroup* g, ucs_status_t status) {
  // Called inside ucp_worker_progress, under the worker's mutex.
  std::unique_ptr<FlushGroup> group(g);
  flushesInFlight_.fetch_sub(1);
  EpFlush& f = g->peer->flushes[g->worker];
  f.inFlight = false;
  if (closing()) return;
  for (Xfer* x : g->xfers) OnFlushed(x, status);
  // The next flush is issued after progress returns (DrainFlushed).
  if (!f.next.empty()) workers_[g->worker]->flushReady.push_back(g->peer);
}

void UcxEngine::OnFlushed(Xfer* x, ucs_status_t status) {
  // Called inside ucp_worker_progress (or at once from IssueFlush), under the worker's mutex.
  if (closing() || !x->inFlight) return;
  if (status != UCS_OK) {
    NoteFailure(x, ToNixlStatus(status),
                UcxMessage("transfer to agent '" + x->peer->name + "' failed", status));
  }
  x->flushDone = true;
  MaybeSettle(*workers_[x->worker], x);
}

void UcxEngine::OnOpDone(Xfer* x, ucs_status_t status) {
  // Called inside ucp_worker_progress, under the worker's mutex.
  if (x->opsPending > 0) x->opsPending--;
  if (closing()) return;
  if (status != UCS_OK) {
    NoteFailure(x, ToNixlStatus(status),
                UcxMessage(std::string(x->read ? "a get from" : "a put to") + " agent '" +
                               x->peer->name + "' failed",
                           status));
  }
  if (status == UCS_OK) x->peer->clock->Touch();
  if (x->inFlight && x->flushDone) MaybeSettle(*workers_[x->worker], x);
}

void UcxEngine::NoteFailure(Xfer* x, int status, const std::string& message) {
  if (x->failStatus != 0) return;
  x->failStatus = status;
  x->error = message;
}

void UcxEngine::MaybeSettle(Worker& w, Xfer* x) {
  if (!x->inFlight || !x->flushDone || x->opsPending > 0) return;
  if (x->failStatus != 0) {
    std::string msg = x->error;
    Settle(x, x->failStatus, msg);
  } else {
    w.flushed.push_back(x);  // the notification (or completion) follows after progress
  }
}

void UcxEngine::FinishFlushed(Worker& w, Xfer* x) {
  if (!x->inFlight) return;
  if (!x->hasNotif) {
    Settle(x, kSuccess, "");
    return;
  }
  if (x->peer->eps[w.index] == nullptr) {
    // Closed (dropped) since the post: the data arrived, the notification cannot follow.
    Settle(x, kErrRemoteDisconnect,
           "the connection to agent '" + x->peer->name + "' was closed before the notification");
    return;
  }
  if (x->peer->self) {
    // To this agent itself: published here, never sent, since the wire
    // refuses this agent's own name (OnNotifAm). The data is visible already.
    const size_t at = x->ackNotif ? 8 : 0;
    PublishNotif(opts_.agentName, x->notif.data() + at, x->notif.size() - at);
    Settle(x, kSuccess, "");
    return;
  }
  // The flush completed, so the data is visible at the target: now the notification.
  if (x->ackNotif) {
    // The target answers with the token (on the reply endpoint UCX gives it);
    // the transfer is DONE once both the send and that answer completed.
    x->ackToken = uint64_t(x->id) << 32 | x->gen;
    std::memcpy(x->notif.data(), &x->ackToken, 8);
    x->notifSent = false;
    x->notifAcked = false;
    w.awaitingAck[x->ackToken] = x;
  }
  switch (SessionState(w, x->peer)) {
    case EpHello::State::kOpen:
      SendNotif(w, x);
      return;
    case EpHello::State::kFailed:
      Settle(x, kErrRemoteDisconnect,
             "agent '" + x->peer->name + "' did not accept this agent's session");
      return;
    default:
      x->peer->hellos[w.index].held.push_back(HeldAm{x, 0, {}});
      x->peer->hellos[w.index].heldBytes += x->notif.size();
  }
}

void UcxEngine::SendNotif(Worker& w, Xfer* x) {
  ucp_request_param_t p = EagerAmParams(NotifSentCb, x);
  unsigned id = kAmNotif;
  if (x->ackToken != 0) {
    id = kAmNotifAcked;
    // A target that holds endpoints to us acknowledges on them; the reply
    // flag would make UCX drop the message if the target closed the endpoint
    // ours is wired to (reloading our metadata does), wire.h.
    if (!x->peer->sessions[w.index].acksOnTargetEndpoint) p.flags |= UCP_AM_SEND_FLAG_REPLY;
  }
  TagHeader(id, &x->peer->sessions[w.index], opts_.agentName, x->peer->name, x->notif.data(),
            x->notif.size(), &x->amHeader);
  ucs_status_ptr_t r = ucp_am_send_nbx(x->peer->eps[w.index], id, x->amHeader.data(),
                                       x->amHeader.size(), x->notif.data(), x->notif.size(), &p);
  if (r == nullptr) {
    if (x->ackToken == 0) {
      Settle(x, kSuccess, "");
    } else {
      x->notifSent = true;
    }
  } else if (UCS_PTR_IS_ERR(r)) {
    ucs_status_t st = UCS_PTR_STATUS(r);
    Settle(x, ToNixlStatus(st), UcxMessage("sending the notification", st));
  }
}

void UcxEngine::OnNotifSent(Xfer* x, ucs_status_t status) {
  if (closing() || !x->inFlight) return;
  if (status != UCS_OK) {
    Settle(x, ToNixlStatus(status), UcxMessage("sending the notification", status));
  } else if (x->ackToken == 0 || x->notifAcked) {
    Settle(x, kSuccess, "");
  } else {
    x->notifSent = true;  // the target's acknowledgement settles it
  }
}

void UcxEngine::FailAwaitingAck(Worker& w, const Peer& peer, const std::string& error) {
  std::vector<Xfer*> failed;
  for (auto& [token, x] : w.awaitingAck) {
    if (x->peer.get() == &peer) failed.push_back(x);
  }
  for (Xfer* x : failed) {
    if (x->notifSent || !x->released) {
      // UCX may still hold its notification's send request, which points at it.
      if (!x->notifSent) x->orphan = true;
      Settle(x, kErrRemoteDisconnect, error);
    } else {
      // Released, and that request still points at it: kept until the engine
      // closes (releasedInFlight_), as FailPeerTransfers keeps such transfers.
      x->orphan = true;
      ForgetAck(x);
      x->peer->clock->inflight.fetch_sub(1);
      x->inFlight = false;
    }
  }
}

void UcxEngine::ForgetAck(Xfer* x) {
  if (x->ackToken == 0) return;
  workers_[x->worker]->awaitingAck.erase(x->ackToken);
  x->ackToken = 0;
}

void UcxEngine::Settle(Xfer* x, int status, const std::string& error) {
  // kProcess: UCX reports success for a copy into the mapped memory of a
  // process that has exited (its endpoints have no error handling), so a
  // transfer that finished outside the post is DONE only if the process is
  // still there now, after the copy: then it was there during all of it (the
  // pidfd pins the process, and a dead one stays dead). This holds for a copy
  // inside the post as well: the target may have exited after this process's
  // event loop last looked at its pidfd (one poll per transfer to such a peer).
  if (status == kSuccess && x->inFlight && x->peer->pidfd >= 0 && ProcessExited(x->peer->pidfd)) {
    Settle(x, kErrRemoteDisconnect,
           "agent '" + x->peer->name + "' (process " + std::to_string(x->peer->pid) +
               " on this host) exited before the transfer was complete");
    return;
  }
  if (x->inFlight) {
    // Progress for timeout_ms: every finished transfer (whether its flush or
    // notification completed in a callback or at once), besides large ops
    // (RmaDoneCb) and a post to an idle peer (Post).
    if (status == kSuccess) x->peer->clock->Touch();
    x->peer->clock->inflight.fetch_sub(1);
  }
  x->inFlight = false;
  ForgetAck(x);
  x->error = error;
  StatusSlots::Store(x->slot, status);
  if (closing() || x->posting) return;
  if (x->released) {
    {
      std::lock_guard<std::mutex> lock(graveMu_);
      graveyard_.push_back(x);
    }
    out_.Add([](CompletionBatch&) {});  // a wake-up, so that it is deleted soon
    return;
  }
  CompletionBatch::Settled entry{x->slotIndex, x->gen, status, status == kSuccess ? "" : error};
  out_.Add([&](CompletionBatch& b) { b.settled.push_back(std::move(entry)); });
}

void UcxEngine::DrainFlushed(Worker& w) {
  while (w.hasDeferred()) {
    std::vector<Xfer*> batch;
    batch.swap(w.unblocked);
    for (Xfer* x : batch) {
      if (!x->inFlight) continue;
      Peer& peer = *x->peer;
      if (peer.eps[w.index] == nullptr || peer.failStatus.load() != 0) {
        std::lock_guard<std::mutex> lock(peer.failMu);
        Settle(x, kErrRemoteDisconnect,
               "agent '" + peer.name + "' is disconnected" +
                   (peer.failMessage.empty() ? "" : " (" + peer.failMessage + ")"));
        continue;
      }
      Start(w, x);
    }
    batch.clear();
    batch.swap(w.flushed);
    for (Xfer* x : batch) FinishFlushed(w, x);
    std::vector<std::shared_ptr<Peer>> ready;
    ready.swap(w.flushReady);
    for (auto& peer : ready) {
      EpFlush& f = peer->flushes[w.index];
      if (f.inFlight || f.next.empty()) continue;
      std::vector<Xfer*> next;
      next.swap(f.next);
      IssueFlush(w, peer, std::move(next));
    }
  }
}

void UcxEngine::ReapClosing(Worker& w) {
  for (size_t i = 0; i < w.closing.size();) {
    if (ucp_request_check_status(w.closing[i]) != UCS_INPROGRESS) {
      ucp_request_free(w.closing[i]);
      w.closing[i] = w.closing.back();
      w.closing.pop_back();
    } else {
      ++i;
    }
  }
}

void UcxEngine::Release(uint32_t xferId) {
  auto it = xfers_.find(xferId);
  if (it == xfers_.end()) return;
  Xfer* x = it->second;
  xfers_.erase(it);
  Worker& w = *workers_[x->worker];
  {
    std::lock_guard<std::mutex> lock(w.mu);
    int32_t* shared = x->slot;
    if (x->inFlight || x->orphan) {
      // Its requests still point at it: it is deleted once they complete, and
      // its late status goes to a slot of its own.
      x->released = true;
      x->slot = &x->detachedSlot;
      releasedInFlight_.insert(x);
    }
    // Nothing of x writes the shared slot any more: JavaScript may reuse it.
    StatusSlots::Store(shared, kSlotFree);
    if (x->released) return;
  }
  delete x;
}

void UcxEngine::SendAm(Worker& w, const std::shared_ptr<Peer>& peer, unsigned id,
                       const uint8_t* data, size_t len) {
  ucs_status_ptr_t r = nullptr;
  {
    // Tagged under the lock: sequence numbers go on the wire in their order.
    std::lock_guard<std::mutex> lock(w.mu);
    switch (SessionState(w, peer)) {
      case EpHello::State::kOpen: {
        auto* buf = new AmBuffer{{}, {data, data + len}};
        TagHeader(id, &peer->sessions[w.index], opts_.agentName, peer->name, buf->data.data(),
                  buf->data.size(), &buf->header);
        r = SendAmBuffer(peer->eps[w.index], id, buf);
        break;
      }
      case EpHello::State::kFailed:
        break;  // the peer failed (reported); nothing goes to it any more
      default: {
        EpHello& h = peer->hellos[w.index];
        if (id == kAmNotif) {
          std::string full = HeldFull(w, *peer, len);
          if (!full.empty()) Fail(kErrNotAllowed, full);
        }
        h.held.push_back(HeldAm{nullptr, id, {data, data + len}});
        h.heldBytes += len;
      }
    }
  }
  AfterPost(w);
  if (UCS_PTR_IS_ERR(r)) FailUcx("ucp_am_send_nbx", UCS_PTR_STATUS(r));
}

void UcxEngine::GenNotif(uint32_t peerId, const uint8_t* msg, size_t len) {
  auto it = peers_.find(peerId);
  if (it == peers_.end()) Fail(kErrNotFound, "no connection to this agent");
  const std::shared_ptr<Peer>& peer = it->second;
  if (peer->closed.load() || peer->failStatus.load() != 0) {
    Fail(kErrRemoteDisconnect, "agent '" + peer->name + "' is disconnected");
  }
  if (peer->self) {
    PublishNotif(opts_.agentName, msg, len);  // see FinishFlushed
    return;
  }
  SendAm(*workers_[0], peer, kAmNotif, msg, len);
}

void UcxEngine::ForgeAm(uint32_t peerId, unsigned id, const uint8_t* header, size_t headerLen,
                        const uint8_t* body, size_t len) {
  auto it = peers_.find(peerId);
  if (it == peers_.end() || it->second->eps.empty()) Fail(kErrNotFound, "no such peer");
  Worker& w = *workers_[0];
  auto* buf = new AmBuffer{{header, header + headerLen}, {body, body + len}};
  {
    std::lock_guard<std::mutex> lock(w.mu);
    SendAmBuffer(it->second->eps[0], id, buf);
  }
  AfterPost(w);
}

void UcxEngine::OnPeerError(const std::shared_ptr<Peer>& peer, unsigned worker,
                            ucs_status_t status) {
  // Called inside ucp_worker_progress, under the worker's mutex.
  if (closing()) return;
  std::string msg = UcxMessage("connection to agent '" + peer->name + "' failed", status);
  // Requests in flight fail with the endpoint; an acknowledgement it owes never
  // comes, nor the acceptance of a HELLO.
  Worker& w = *workers_[worker];
  FailSession(w, *peer, msg + " before it accepted this agent's session");
  FailAwaitingAck(w, *peer, msg + " before it acknowledged the notification");
  MarkFailed(peer, msg);
}

void UcxEngine::MarkFailed(const std::shared_ptr<Peer>& peer, const std::string& msg) {
  {
    std::lock_guard<std::mutex> lock(peer->failMu);
    if (peer->failMessage.empty()) peer->failMessage = msg;
  }
  int expected = 0;
  peer->failStatus.compare_exchange_strong(expected, kErrRemoteDisconnect);
  if (peer->closed.load() || peer->failReported.exchange(true)) return;
  out_.Add([&](CompletionBatch& b) {
    b.events.push_back({CompletionBatch::kDisconnected, peer->id, kErrRemoteDisconnect, msg});
  });
}

void UcxEngine::OnPeerExited(uint32_t peerId) {
  auto it = peers_.find(peerId);
  if (it == peers_.end() || closing()) return;
  std::shared_ptr<Peer> peer = it->second;
  UnwatchProcess(*peer);
  peer->exited = true;
  FailPeerTransfers(peer, "agent '" + peer->name + "' (process " + std::to_string(peer->pid) +
                              " on this host) exited");
}

void UcxEngine::CheckTimeouts() {
  if (opts_.timeoutMs == 0 || closing()) return;
  const uint64_t now = static_cast<uint64_t>(SteadyNs());
  const uint64_t limit = uint64_t(opts_.timeoutMs) * 1000000;
  std::vector<std::shared_ptr<Peer>> late;
  for (auto& [id, peer] : peers_) {
    if (peer->self || peer->failStatus.load() != 0) continue;
    PeerClock& c = *peer->clock;
    const uint64_t moves = c.moves.load(std::memory_order_relaxed);
    // Idle, or moved since the last check: the stall clock starts over.
    if (moves != c.seenMoves || c.inflight.load() == 0) {
      c.seenMoves = moves;
      c.seenAtNs = now;
      continue;
    }
    if (now - c.seenAtNs > limit) late.push_back(peer);
  }
  for (auto& peer : late) {
    FailPeerTransfers(peer, "agent '" + peer->name + "' made no progress for " +
                                std::to_string(opts_.timeoutMs) + " ms (timed out)");
  }
}

// UCX fails nothing for a dead process without error handling, nor for a
// frozen or stuck peer at all (their flushes may never complete), so the
// transfers in flight fail here. UCX may still hold requests that point at
// them: they become orphans, kept until the engine closes, and every callback
// skips a transfer no longer in flight.
void UcxEngine::FailPeerTransfers(const std::shared_ptr<Peer>& peer, const std::string& msg) {
  MarkFailed(peer, msg);
  auto fail = [&](Xfer* x) {
    if (x->peer != peer) return;
    std::lock_guard<std::mutex> lock(workers_[x->worker]->mu);
    if (!x->inFlight) return;
    x->orphan = true;
    if (x->released) {
      ForgetAck(x);
      x->peer->clock->inflight.fetch_sub(1);
      x->inFlight = false;  // stays in releasedInFlight_ until Close
    } else {
      Settle(x, kErrRemoteDisconnect, msg);
    }
  };
  for (auto& [id, x] : xfers_) fail(x);
  for (Xfer* x : releasedInFlight_) fail(x);
}

void UcxEngine::PublishNotif(std::string_view from, const uint8_t* data, size_t len) {
  if (closing()) return;
  CompletionBatch::Notif n;
  n.agent.assign(from);
  n.msg.assign(data, data + len);
  out_.Add([&](CompletionBatch& b) { b.notifs.push_back(std::move(n)); });
}

bool UcxEngine::OnNotifAm(const void* header, size_t headerLen, const void* data, size_t len) {
  // Only under a session its sender opened with the name's key; never under
  // this agent's own name, whose notifications never cross the wire.
  std::string_view from;
  if (!auth_.Verify(kAmNotif, header, headerLen, static_cast<const uint8_t*>(data), len, &from)) {
    return false;
  }
  PublishNotif(from, static_cast<const uint8_t*>(data), len);
  return true;
}

void UcxEngine::OnNotifAckedAm(Worker& w, const void* header, size_t headerLen, const void* data,
                               size_t len, const ucp_am_recv_param_t* param) {
  if (closing() || len < 8) return;
  const auto* body = static_cast<const uint8_t*>(data);
  std::string_view from;
  // The acknowledgement carries the token, under the notification's session.
  auto* buf = new AmBuffer{{}, {body, body + 8}};
  Reply reply{kAmNotifAck, buf->data.data(), 8, &buf->header};
  if (!auth_.Verify(kAmNotifAcked, header, headerLen, body, len, &from, &reply)) {
    delete buf;
    return;
  }
  PublishNotif(from, body + 8, len - 8);
  // Published (getNotifs returns it from now on): acknowledge it. This runs
  // inside the receiving worker's progress, under its mutex.
  if ((param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) != 0) {
    SendAmBuffer(param->reply_ep, kAmNotifAck, buf);
    return;
  }
  // Sent without the reply flag: we told the sender we hold endpoints to it.
  std::shared_ptr<Peer> peer = OwnEndpointPeer(w, from);
  if (peer == nullptr) {
    delete buf;
    return;
  }
  SendAmBuffer(peer->eps[w.index], kAmNotifAck, buf);
}

void UcxEngine::OnNotifAckAm(Worker& w, const void* header, size_t headerLen, const void* data,
                             size_t len) {
  if (closing() || len != 8) return;
  auto it = w.awaitingAck.find(GetU64(data));
  if (it == w.awaitingAck.end()) return;  // settled meanwhile (failed, or the engine closing)
  Xfer* x = it->second;
  if (!x->inFlight) return;
  // Only the target of the transfer acknowledges it: under the session our
  // notification went on, which only the target can key.
  if (!VerifyAnswer(kAmNotifAck, &x->peer->sessions[w.index], header, headerLen, x->peer->name,
                    opts_.agentName, static_cast<const uint8_t*>(data), len)) {
    return;
  }
  x->notifAcked = true;
  if (x->notifSent) Settle(x, kSuccess, "");
}

void UcxEngine::OnRevokeAm(const void* header, size_t headerLen, const void* data, size_t len) {
  if (len != 8) return;
  uint64_t regionId = 0;
  std::memcpy(&regionId, data, 8);
  // Never under our own name: our own regions are revoked directly (Deregister).
  std::string_view sender;
  if (!auth_.Verify(kAmRevoke, header, headerLen, static_cast<const uint8_t*>(data), len,
                    &sender)) {
    return;
  }
  std::lock_guard<std::mutex> lock(revokeMu_);
  auto range = byRegionId_.equal_range(regionId);
  for (auto it = range.first; it != range.second; ++it) {
    // Only the owner of a region can revoke it.
    if (it->second->peer->name == sender) {
      it->second->revoked.store(true, std::memory_order_release);
    }
  }
}

std::vector<Xfer*> UcxEngine::SwapGraveyard() {
  std::lock_guard<std::mutex> lock(graveMu_);
  std::vector<Xfer*> out;
  out.swap(graveyard_);
  return out;
}

void UcxEngine::TakeBatch(CompletionBatch* out) {
  out_.Take(out);
  for (Xfer* x : SwapGraveyard()) {
    releasedInFlight_.erase(x);
    delete x;
  }
}

void UcxEngine::AwaitPublished() {
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
  }
}

void UcxEngine::DetachFromLoop() {
  for (auto& [id, peer] : peers_) UnwatchProcess(*peer);
  StopTimeoutTimer();
  StopLoopProgress();
}

// Progress until no transfer is in flight, for at most `limit`. UCX 1.13
// aborts a process whose endpoint is torn down while it serves a peer's get
// over tcp, so endpoints go only after what is on the wire finished (or the
// bound passed). The progress thread, if any, is still running here.
void UcxEngine::DrainInFlight(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto anyInFlight = [this] {
    for (auto& [id, x] : xfers_) {
      std::lock_guard<std::mutex> lock(workers_[x->worker]->mu);
      if (x->inFlight && !x->orphan) return true;
    }
    for (Xfer* x : releasedInFlight_) {
      std::lock_guard<std::mutex> lock(workers_[x->worker]->mu);
      if (x->inFlight && !x->orphan) return true;
    }
    return false;
  };
  while (anyInFlight() && std::chrono::steady_clock::now() < deadline) {
    if (opts_.progress == ProgressMode::kThread) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    for (auto& w : workers_) {
      std::lock_guard<std::mutex> lock(w->mu);
      while (ucp_worker_progress(w->handle) != 0) {
      }
      DrainFlushed(*w);
    }
  }
}

void UcxEngine::Close(std::chrono::milliseconds drain) {
  if (closed_) return;
  DetachFromLoop();
  DrainInFlight(drain);
  StopProgress();
  closing_.store(true, std::memory_order_release);
  // Every transfer, live or released while in flight: fail what is in flight
  // (its slot says canceled; late request callbacks see closing() and stop).
  std::vector<Xfer*> all;
  for (auto& [id, x] : xfers_) all.push_back(x);
  for (Xfer* x : releasedInFlight_) all.push_back(x);
  for (Xfer* x : SwapGraveyard()) {
    if (!releasedInFlight_.count(x)) all.push_back(x);
  }
  xfers_.clear();
  releasedInFlight_.clear();
  for (Xfer* x : all) {
    if (x->inFlight) {
      x->inFlight = false;
      x->error = "the UCX backend was closed";
      StatusSlots::Store(x->slot, kErrCanceled);
    }
  }
  // Closing: no flush handshake with peers, which may be dead and unnoticed
  // yet (JavaScript already let the transfers in flight drain).
  for (auto& [id, peer] : peers_) {
    if (!peer->closed.load()) CloseEps(*peer, true);
  }
  // Give endpoint closes, and the puts, gets and flushes they complete (with
  // an error when forced), a bounded time (about 1 s). UCX 1.13 asserts, and
  // aborts the process, if a worker is destroyed while an endpoint still
  // holds requests: what is still pending after the bound is left to the
  // process (leaked), never destroyed under UCX.
  bool pending = false;
  for (int round = 0; round < 2000; ++round) {
    pending = false;
    for (auto& w : workers_) {
      std::lock_guard<std::mutex> lock(w->mu);
      while (ucp_worker_progress(w->handle) != 0) {
      }
      ReapClosing(*w);
      pending = pending || !w->closing.empty();
    }
    pending = pending || flushesInFlight_.load() > 0;
    for (Xfer* x : all) pending = pending || x->opsPending > 0;
    if (!pending) break;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  if (pending) {
    fprintf(stderr,
            "nixl-ts UCX: requests still pending 1 s after closing agent '%s' (a peer that "
            "stopped answering); its UCX workers are left to the process instead of destroyed\n",
            opts_.agentName.c_str());
    // The status slots go with the binding's state: nothing left here may write them.
    for (Xfer* x : all) x->slot = &x->detachedSlot;
    // Nothing UCX may still reach is freed: no rkey destroyed, no memory
    // unmapped, no worker destroyed, no ucp_cleanup. Nothing progresses the
    // workers any more, so no callback runs into this engine.
    Leak(ctx_);
    Leak(remotes_);
    Leak(locals_);
    Leak(peers_);
    Leak(allocations_);
    for (auto& w : workers_) w->handle = nullptr;
    leaked_ = std::move(all);
    closed_ = true;
    return;
  }
  for (auto& w : workers_) {
    for (void* r : w->closing) ucp_request_free(r);
    w->closing.clear();
    w->flushed.clear();
    w->unblocked.clear();
    w->flushReady.clear();
    w->awaitingAck.clear();
  }
  for (auto& [id, peer] : peers_) {
    for (EpFlush& f : peer->flushes) f.next.clear();
  }
  // rkeys go before their workers, memory handles before the context.
  for (Xfer* x : all) {
    x->remotes.clear();
    x->locals.clear();
    x->peer.reset();
  }
  remotes_.clear();
  locals_.clear();
  peers_.clear();
  selfPeer_.reset();
  for (auto& w : workers_) {
    if (w->handle != nullptr) ucp_worker_destroy(w->handle);
    w->handle = nullptr;
  }
  for (Xfer* x : all) delete x;
  epCtxs_.clear();
  allocations_.clear();
  ctx_.reset();  // the context goes with the last allocation still in use
  context_ = nullptr;
  closed_ = true;
}

}  // namespace nixl::ucx
