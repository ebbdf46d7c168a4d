// JavaScript binding of the TCP engine: a `TcpEngine` class. Transfer status
// lives in the status slots (common/status_slots.h); completions,
// notifications and peer events arrive through one ThreadSafeFunction call per
// batch (common/completion_batch.h).
#include <sched.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "addon.h"
#include "common/completion_batch.h"
#include "common/crypto.h"
#include "common/js_call.h"
#include "common/native_error.h"
#include "common/status_slots.h"
#include "common/teardown_guard.h"
#include "tcp/engine.h"

namespace nixl {
namespace {

using tcp::Engine;
using tcp::EngineConfig;
using tcp::XferDesc;
using tcp::XferOp;

constexpr int kDescWords = 9;

uint64_t U64Arg(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
}

// What the thread-safe function shares with the wrapper: it outlives the
// wrapper and is deleted by the thread-safe function's finalizer, which runs on
// the JavaScript thread once both the wrapper and the I/O thread released it
// (see native/LIFETIME.md).
struct Host {
  explicit Host(uint32_t maxSlots) : slots(maxSlots) {}
  std::unique_ptr<Engine> engine;
  napi_threadsafe_function tsfn = nullptr;
  // Set on the JavaScript thread when the wrapper closes: batches still queued
  // are dropped from then on.
  bool closed = false;
  // Written by the I/O thread until it is joined, so freed with the host.
  StatusSlots slots;
  CompletionBatch box;  // JavaScript thread only
};

class TcpEngineWrap : public Napi::ObjectWrap<TcpEngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TcpEngine",
                       {
                           InstanceMethod("info", &TcpEngineWrap::Info),
                           InstanceMethod("growSlots", &TcpEngineWrap::GrowSlots),
                           InstanceMethod("takeBatch", &TcpEngineWrap::TakeBatch),
                           InstanceMethod("takePublished", &TcpEngineWrap::TakePublished),
                           InstanceMethod("registerRegion", &TcpEngineWrap::RegisterRegion),
                           InstanceMethod("deregisterRegion", &TcpEngineWrap::DeregisterRegion),
                           InstanceMethod("allocShared", &TcpEngineWrap::AllocShared),
                           InstanceMethod("shmCounters", &TcpEngineWrap::ShmCountersJs),
                           InstanceMethod("lingerCounters", &TcpEngineWrap::LingerCountersJs),
                           InstanceMethod("regimeCounters", &TcpEngineWrap::RegimeCountersJs),
                           InstanceMethod("addPeer", &TcpEngineWrap::AddPeer),
                           InstanceMethod("removePeer", &TcpEngineWrap::RemovePeer),
                           InstanceMethod("connect", &TcpEngineWrap::Connect),
                           InstanceMethod("prep", &TcpEngineWrap::Prep),
                           InstanceMethod("yieldCpu", &TcpEngineWrap::YieldCpu),
                           InstanceMethod("park", &TcpEngineWrap::Park),
                           InstanceMethod("stopPolling", &TcpEngineWrap::StopPolling),
                           InstanceMethod("release", &TcpEngineWrap::Release),
                           InstanceMethod("runQueuedCommands", &TcpEngineWrap::RunQueuedCommands),
                           InstanceMethod("genNotif", &TcpEngineWrap::GenNotif),
                           InstanceMethod("ref", &TcpEngineWrap::Ref),
                           InstanceMethod("unref", &TcpEngineWrap::Unref),
                           InstanceMethod("close", &TcpEngineWrap::Close),
                       });
  }

  // new TcpEngine(options, onBatch)
  explicit TcpEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpEngineWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsFunction()) {
      throw ToJsError(env, NativeError{kErrInvalidParam, "TcpEngine(options, onBatch)"});
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EngineConfig cfg;
    cfg.bindAddr = o.Get("bindAddr").As<Napi::String>().Utf8Value();
    cfg.port = o.Get("port").As<Napi::Number>().Int32Value();
    cfg.streams = o.Get("streams").As<Napi::Number>().Int32Value();
    cfg.sameHost = o.Get("sameHost").As<Napi::Boolean>().Value();
    cfg.timeoutMs = static_cast<uint64_t>(o.Get("timeoutMs").As<Napi::Number>().Int64Value());
    cfg.connectTimeoutMs =
        static_cast<uint64_t>(o.Get("connectTimeoutMs").As<Napi::Number>().Int64Value());
    cfg.busyPollUs = static_cast<uint64_t>(o.Get("busyPollUs").As<Napi::Number>().Int64Value());
    cfg.lingerUs = static_cast<uint64_t>(o.Get("lingerUs").As<Napi::Number>().Int64Value());
    cfg.pollAuto = o.Get("pollProgress").As<Napi::String>().Utf8Value() == "auto";
    cfg.pollSend = o.Get("pollSend").As<Napi::Boolean>().Value();
    cfg.pollSendMinBytes =
        static_cast<uint64_t>(o.Get("pollSendMinBytes").As<Napi::Number>().Int64Value());
    cfg.inlineWriteMaxBytes =
        static_cast<uint64_t>(o.Get("inlineWriteMaxBytes").As<Napi::Number>().Int64Value());
    cfg.stripeMinBytes =
        static_cast<uint64_t>(o.Get("stripeMinBytes").As<Napi::Number>().Int64Value());
    cfg.tcpCongestion = o.Get("tcpCongestion").As<Napi::String>().Utf8Value();
    cfg.copyThreads = o.Get("copyThreads").As<Napi::Number>().Uint32Value();
    cfg.shm = o.Get("sameHostShm").As<Napi::Boolean>().Value();
    cfg.shmUnmapTimeoutMs =
        static_cast<uint64_t>(o.Get("shmUnmapTimeoutMs").As<Napi::Number>().Int64Value());
    cfg.shmMaxBytes = static_cast<uint64_t>(o.Get("shmMaxBytes").As<Napi::Number>().Int64Value());
    cfg.shmInlineMaxBytes =
        static_cast<uint64_t>(o.Get("shmInlineMaxBytes").As<Napi::Number>().Int64Value());
    cfg.name = o.Get("name").As<Napi::String>().Utf8Value();
    Napi::Value seed = o.Get("identitySeed");
    if (!seed.IsTypedArray() || seed.As<Napi::Uint8Array>().ByteLength() != 32) {
      throw ToJsError(env,
                      NativeError{kErrInvalidParam, "TcpEngine: identitySeed must be 32 bytes"});
    }
    std::memcpy(cfg.identitySeed, seed.As<Napi::Uint8Array>().Data(), 32);
    if (o.Get("unixName").IsString())
      cfg.unixName = o.Get("unixName").As<Napi::String>().Utf8Value();
    auto* host = new Host(o.Get("slots").As<Napi::Number>().Uint32Value());
    Napi::String name = Napi::String::New(env, "nixl-tcp");
    // Two holders: this wrapper and the I/O thread, which releases its hold as
    // its last act. The finalizer (FreeHost) thus runs after the thread's last wake.
    napi_status st = napi_create_threadsafe_function(env, info[1], nullptr, name, 0, 2, nullptr,
                                                     FreeHost, host, CallJs, &host->tsfn);
    if (st != napi_ok) {
      delete host;
      throw ToJsError(
          env, NativeError{kErrBackend, "TcpEngine: cannot create its thread-safe function"});
    }
    napi_unref_threadsafe_function(env, host->tsfn);  // idle: never keeps the loop alive
    host->engine = std::make_unique<Engine>(
        cfg, [host] { napi_call_threadsafe_function(host->tsfn, nullptr, napi_tsfn_nonblocking); },
        [host] { napi_release_threadsafe_function(host->tsfn, napi_tsfn_release); });
    host_ = host;
    try {
      host->engine->Start();
    } catch (const std::exception& e) {
      // No thread started: release its hold as well as ours.
      host->closed = true;
      napi_release_threadsafe_function(host->tsfn, napi_tsfn_release);
      napi_release_threadsafe_function(host->tsfn, napi_tsfn_release);
      host_ = nullptr;
      // Binding or listening failed: the parameters (address, port) are the cause.
      throw ToJsError(env, NativeError{kErrInvalidParam, e.what()});
    }
    guard_.Arm(env);
    BindHotMethods(env, info.This().As<Napi::Object>());
  }

  // The finalizer: revoke every region (so no peer reaches memory that is
  // being collected with this engine), tell the I/O thread to stop, and let
  // go. It never joins the thread: FreeHost does, once the thread is done.
  ~TcpEngineWrap() override {
    if (host_ == nullptr) return;
    host_->closed = true;
    guard_.Disarm();
    host_->engine->RevokeAllRegions();
    host_->engine->RequestStop();
    napi_release_threadsafe_function(host_->tsfn, napi_tsfn_release);
    host_ = nullptr;
  }

 private:
  // Stops and joins the I/O thread, then lets go of the thread-safe function
  // (after which FreeHost may free the host at any time: host_ is cleared).
  void Shutdown() {
    if (host_ == nullptr) return;
    host_->closed = true;
    guard_.Disarm();
    host_->engine->Stop();
    napi_release_threadsafe_function(host_->tsfn, napi_tsfn_release);
    host_ = nullptr;
  }

  // post and progress, called once or more per transfer, are own properties
  // of each engine: functions whose data is this wrapper, so a call does not
  // look the wrapper up (napi_unwrap, a property lookup): 0.1-0.2 us less
  // per transfer on this VM (bench/cli/results/2026-12-busy-poll-6/). Each
  // function holds the engine object (under a symbol), so it cannot be called
  // after the engine was collected; the cycle is collected as one.
  void BindHotMethods(Napi::Env env, Napi::Object self) {
    Napi::Symbol owner = Napi::Symbol::New(env, "engine");
    auto bind = [&](const char* name, Napi::Function fn) {
      fn.DefineProperty(Napi::PropertyDescriptor::Value(owner, self, napi_default));
      self.DefineProperty(Napi::PropertyDescriptor::Value(name, fn, napi_default));
    };
    bind("post", Napi::Function::New<&TcpEngineWrap::BoundPost>(env, "post", this));
    bind("progress", Napi::Function::New<&TcpEngineWrap::BoundProgress>(env, "progress", this));
  }
  static Napi::Value BoundPost(const Napi::CallbackInfo& info) {
    return static_cast<TcpEngineWrap*>(info.Data())->Post(info);
  }
  static Napi::Value BoundProgress(const Napi::CallbackInfo& info) {
    return static_cast<TcpEngineWrap*>(info.Data())->Progress(info);
  }

  static void FreeHost(napi_env, void*, void* hint) {
    auto* host = static_cast<Host*>(hint);
    host->engine->Join();
    delete host;
  }

  Engine& Live(Napi::Env env) {
    if (host_ == nullptr)
      throw ToJsError(env, NativeError{kErrNotAllowed, "the TCP engine is closed"});
    return *host_->engine;
  }
  bool live() const { return host_ != nullptr; }

  static void CallJs(napi_env env, napi_value cb, void* context, void*) {
    auto* host = static_cast<Host*>(context);
    if (env == nullptr || host->closed) return;
    DeliverQuietly(env, [&] { Deliver(Napi::Env(env), cb, host); });
  }

  static void Deliver(Napi::Env env, napi_value cb, Host* host) {
    host->engine->TakeBatch(&host->box);
    if (host->box.Empty()) return;
    Napi::HandleScope scope(env);
    auto args = BatchToJs(env, host->box);
    CallQuietly(env, cb, {args[0], args[1], args[2], args[3]});
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("port", e.port());
    o.Set("secret", Napi::Buffer<uint8_t>::Copy(env, e.secret(), 32));
    o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, e.publicKey(), 32));
    o.Set("pid", Napi::Number::New(env, getpid()));
    return o;
  }

  // growSlots() -> the next chunk of status slots (Int32Array), or undefined at the cap.
  Napi::Value GrowSlots(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    return host_->slots.Grow(env);
  }

  // takeBatch() -> [settled, failures, notifs, events] pending now, or
  // undefined: for a slot read as failed before its batch came.
  Napi::Value TakeBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live()) return env.Undefined();
    host_->engine->AwaitPublished();
    return TakePublished(info);
  }

  // takePublished() -> the same, without waiting for the I/O thread's round:
  // what getNotifs takes (a notification is published before its ACK leaves).
  Napi::Value TakePublished(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live()) return env.Undefined();
    host_->engine->TakeBatch(&host_->box);
    return BatchToArray(env, host_->box);
  }

  // registerRegion(addr, len, owner?) -> 12-byte public data: regionId u32
  // LE, key u64 LE. `owner` (the buffer the region lies in) is kept alive
  // until the region is deregistered or the engine is gone, so a peer can
  // never reach memory that was collected while still registered.
  Napi::Value RegisterRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t key = 0;
    uint32_t id = Live(env).RegisterRegion(U64Arg(info[0]), U64Arg(info[1]), &key);
    if (info.Length() > 2 && info[2].IsObject()) {
      owners_[id] = Napi::Persistent(info[2].As<Napi::Object>());
    }
    guard_.Arm(env);  // even without an owner: the memory may still be freed at teardown
    auto buf = Napi::Buffer<uint8_t>::New(env, 12);
    std::memcpy(buf.Data(), &id, 4);
    std::memcpy(buf.Data() + 4, &key, 8);
    return buf;
  }

  // allocShared(bytes) -> Buffer over a memfd mapping (zeroed) that same-host
  // peers may map once a region covers all of it. The Buffer owns the
  // allocation: it stays valid after the engine closed, unmapped when collected.
  Napi::Value AllocShared(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t bytes = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    std::shared_ptr<tcp::SharedAlloc> a;
    try {
      a = Live(env).AllocShared(bytes);
    } catch (const std::exception& e) {
      throw ToJsError(env, NativeError{kErrBackend, e.what()});
    }
    auto* owner = new std::shared_ptr<tcp::SharedAlloc>(std::move(a));
    return Napi::Buffer<uint8_t>::New(
        env, (*owner)->addr, static_cast<size_t>(bytes),
        [](Napi::Env, uint8_t*, std::shared_ptr<tcp::SharedAlloc>* o) { delete o; }, owner);
  }

  // shmCounters() -> what the shared-memory path did (tcp::ShmCounters).
  Napi::Value ShmCountersJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!live()) return o;
    tcp::ShmCounters c = host_->engine->shmCounters();
    o.Set("copies", Napi::Number::New(env, static_cast<double>(c.copies)));
    o.Set("maps", Napi::Number::New(env, static_cast<double>(c.maps)));
    o.Set("pullGrants", Napi::Number::New(env, static_cast<double>(c.pullGrants)));
    o.Set("grants", Napi::Number::New(env, static_cast<double>(c.grants)));
    o.Set("refused", Napi::Number::New(env, static_cast<double>(c.refused)));
    o.Set("dropped", Napi::Number::New(env, static_cast<double>(c.dropped)));
    o.Set("privatized", Napi::Number::New(env, static_cast<double>(c.privatized)));
    return o;
  }

  // lingerCounters() -> what the I/O thread's lingering did (tcp::LingerCounters).
  Napi::Value LingerCountersJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!live()) return o;
    tcp::LingerCounters c = host_->engine->lingerCounters();
    o.Set("hits", Napi::Number::New(env, static_cast<double>(c.hits)));
    o.Set("misses", Napi::Number::New(env, static_cast<double>(c.misses)));
    return o;
  }

  // regimeCounters() -> what poll_progress=auto's detector saw (tcp::RegimeCounters).
  Napi::Value RegimeCountersJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!live()) return o;
    tcp::RegimeCounters c = host_->engine->regimeCounters();
    o.Set("sharedCpu", Napi::Boolean::New(env, c.sharedCpu));
    o.Set("byYields", Napi::Boolean::New(env, c.byYields));
    o.Set("byCpus", Napi::Boolean::New(env, c.byCpus));
    o.Set("longYields", Napi::Number::New(env, static_cast<double>(c.longYields)));
    o.Set("shortYields", Napi::Number::New(env, static_cast<double>(c.shortYields)));
    o.Set("switchesOn", Napi::Number::New(env, static_cast<double>(c.switchesOn)));
    o.Set("switchesOff", Napi::Number::New(env, static_cast<double>(c.switchesOff)));
    o.Set("sameCpuSettles", Napi::Number::New(env, static_cast<double>(c.sameCpuSettles)));
    o.Set("otherCpuSettles", Napi::Number::New(env, static_cast<double>(c.otherCpuSettles)));
    o.Set("probes", Napi::Number::New(env, static_cast<double>(c.probes)));
    return o;
  }

  Napi::Value DeregisterRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live()) return Napi::Boolean::New(env, false);
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    bool found = host_->engine->DeregisterRegion(id);
    owners_.erase(id);  // after the revocation: the engine no longer touches it
    return Napi::Boolean::New(env, found);
  }

  // addPeer(name, host, port, secret, publicKey, sameHost, unixName) -> peer id
  Napi::Value AddPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto secret = info[3].As<Napi::Uint8Array>();
    auto publicKey = info[4].As<Napi::Uint8Array>();
    if (secret.ByteLength() != 32) {
      throw ToJsError(env, NativeError{kErrInvalidParam, "secret must be 32 bytes"});
    }
    if (publicKey.ByteLength() != 32) {
      throw ToJsError(env, NativeError{kErrInvalidParam, "publicKey must be 32 bytes"});
    }
    uint32_t id = Live(env).AddPeer(
        info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
        info[2].As<Napi::Number>().Int32Value(), secret.Data(), publicKey.Data(),
        info[5].As<Napi::Boolean>().Value(), info[6].As<Napi::String>().Utf8Value());
    return Napi::Number::New(env, id);
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    if (live()) host_->engine->RemovePeer(info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Live(info.Env())
        .Connect(info[0].As<Napi::Number>().Uint32Value(),
                 info[1].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  // prep(slot, op (0 WRITE, 1 READ), peerId, Uint32Array of 9 words per descriptor)
  Napi::Value Prep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& engine = Live(env);
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    int32_t* status = host_->slots.At(slot);
    if (status == nullptr) {
      throw ToJsError(env, NativeError{kErrInvalidParam, "status slot out of range"});
    }
    auto words = info[3].As<Napi::Uint32Array>();
    size_t n = words.ElementLength() / kDescWords;
    std::vector<XferDesc> descs(n);
    const uint32_t* w = words.Data();
    auto u64 = [](const uint32_t* p) { return uint64_t(p[0]) | (uint64_t(p[1]) << 32); };
    for (size_t i = 0; i < n; i++) {
      const uint32_t* d = w + i * kDescWords;
      descs[i] = XferDesc{u64(d), u64(d + 2), u64(d + 4), u64(d + 6), d[8]};
    }
    engine.Prep(slot, status,
                info[1].As<Napi::Number>().Uint32Value() == 0 ? XferOp::kWrite : XferOp::kRead,
                info[2].As<Napi::Number>().Uint32Value(), std::move(descs));
    return env.Undefined();
  }

  // post(slot, gen, notif?) -> what poll_progress=auto's regime said for it
  // (tcp::RegimeSaid: 0 off, 1 the caller reads the answer, 2 a probe).
  Napi::Value Post(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    uint32_t gen = info[1].As<Napi::Number>().Uint32Value();
    tcp::RegimeSaid said;
    if (info.Length() > 2 && info[2].IsTypedArray()) {
      auto n = info[2].As<Napi::Uint8Array>();
      said = Live(env).Post(slot, gen, n.Data(), n.ByteLength(), true);
    } else {
      said = Live(env).Post(slot, gen, nullptr, 0, false);
    }
    return Napi::Number::New(env, static_cast<int>(said));
  }

  // progress(slot, gen) -> true when that post succeeded inside the call (no batch entry).
  Napi::Value Progress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool done = live() && host_->engine->Progress(info[0].As<Napi::Number>().Uint32Value(),
                                                  info[1].As<Napi::Number>().Uint32Value());
    return Napi::Boolean::New(env, done);
  }

  // yieldCpu(sample): sched_yield, for a caller that polls a transfer in
  // flight; timed when `sample` (poll_progress=auto's signal).
  Napi::Value YieldCpu(const Napi::CallbackInfo& info) {
    if (live() && info[0].ToBoolean().Value()) {
      host_->engine->YieldCpu();
    } else {
      sched_yield();
    }
    return info.Env().Undefined();
  }

  // park(slot, maxUs): sleeps until a transfer settles, the slot no longer
  // reads IN_PROG, or maxUs passed (Engine::ParkUntilSettle).
  Napi::Value Park(const Napi::CallbackInfo& info) {
    if (live()) {
      uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
      uint32_t maxUs = info[1].As<Napi::Number>().Uint32Value();
      if (const int32_t* status = host_->slots.At(slot)) {
        host_->engine->ParkUntilSettle(status, kInProg, maxUs);
      }
    }
    return info.Env().Undefined();
  }

  Napi::Value StopPolling(const Napi::CallbackInfo& info) {
    if (live())
      host_->engine->StopPolling(info[0].As<Napi::Number>().Uint32Value(),
                                 info[1].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    if (live()) {
      uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
      if (int32_t* status = host_->slots.At(slot)) host_->engine->Release(slot, status);
    }
    return info.Env().Undefined();
  }

  Napi::Value RunQueuedCommands(const Napi::CallbackInfo& info) {
    if (live()) host_->engine->RunQueuedCommands();
    return info.Env().Undefined();
  }

  Napi::Value GenNotif(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = info[1].As<Napi::Uint8Array>();
    Live(env).GenNotif(info[0].As<Napi::Number>().Uint32Value(), m.Data(), m.ByteLength());
    return env.Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (live()) napi_ref_threadsafe_function(info.Env(), host_->tsfn);
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (live()) napi_unref_threadsafe_function(info.Env(), host_->tsfn);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    owners_.clear();
    return info.Env().Undefined();
  }

  Host* host_ = nullptr;  // freed by FreeHost, never by this wrapper; null once let go
  TeardownGuard guard_{[this] { Shutdown(); }};
  std::unordered_map<uint32_t, Napi::Reference<Napi::Object>> owners_;
};

// hmacSha256(key, msg) and sha256(msg): the handshake's primitives, exposed
// so that tests check them against published vectors (RFC 4231).
Napi::Value HmacSha256Js(const Napi::CallbackInfo& info) {
  auto key = info[0].As<Napi::Uint8Array>();
  auto msg = info[1].As<Napi::Uint8Array>();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), 32);
  crypto::HmacSha256(key.Data(), key.ByteLength(), msg.Data(), msg.ByteLength(), out.Data());
  return out;
}

Napi::Value Sha256Js(const Napi::CallbackInfo& info) {
  auto msg = info[0].As<Napi::Uint8Array>();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), 32);
  crypto::Sha256(msg.Data(), msg.ByteLength(), out.Data());
  return out;
}

}  // namespace

void InitTcp(Napi::Env env, Napi::Object exports) {
  exports.Set("TcpEngine", TcpEngineWrap::Define(env));
  exports.Set("hmacSha256", Napi::Function::New(env, HmacSha256Js));
  exports.Set("sha256", Napi::Function::New(env, Sha256Js));
}

}  // namespace nixl
