// JavaScript binding of the UCX engine: class UcxEngine, ucxVersion(),
// ucxLibraryPath(). Completions, notifications and peer failures reach
// JavaScript in batches through a thread-safe function (one call per batch,
// common/completion_batch.h); transfer status is read by JavaScript from the
// status slots (common/status_slots.h).
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <unordered_map>

#include "addon.h"
#include "common/completion_batch.h"
#include "common/js_call.h"
#include "common/native_error.h"
#include "common/status_slots.h"
#include "common/teardown_guard.h"
#include "ucx/engine.h"

namespace nixl {
namespace {

using ucx::EngineError;
using ucx::EngineOptions;
using ucx::UcxEngine;

// What the wrapper, its `post` function and the thread-safe function share.
// Owned through shared_ptrs that live on the JavaScript thread only (the
// wrapper, `post`'s data, the thread-safe function's context), so it is always
// freed there; UCX's threads reach the thread-safe function through a raw
// handle that stays valid until the engine is closed (native/LIFETIME.md).
// Transfers one engine can have prepared at once: a bound for the table, not a
// preallocation (it grows by chunks of 1,024).
constexpr uint32_t kMaxSlots = 1u << 22;

struct Shared {
  std::unique_ptr<UcxEngine> engine;
  napi_threadsafe_function tsfn = nullptr;
  bool closed = false;  // JavaScript thread
  // A finalized wrapper's engine is closed here, off the event loop; the
  // thread-safe function's finalizer joins it.
  std::thread closer;
  // The engine writes them until it is closed, whichever thread closes it.
  StatusSlots slots{kMaxSlots};
  CompletionBatch box;  // JavaScript thread only
  // The buffers registered regions lie in (register's `owner`), kept alive
  // until deregistration or the engine's end.
  std::unordered_map<uint32_t, Napi::ObjectReference> owners;
};

class UcxEngineWrap : public Napi::ObjectWrap<UcxEngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UcxEngine",
                       {
                           InstanceMethod<&UcxEngineWrap::ConnInfo>("connInfo"),
                           InstanceMethod<&UcxEngineWrap::GrowSlots>("growSlots"),
                           InstanceMethod<&UcxEngineWrap::TakeBatch>("takeBatch"),
                           InstanceMethod<&UcxEngineWrap::TakePublished>("takePublished"),
                           InstanceMethod<&UcxEngineWrap::Alloc>("alloc"),
                           InstanceMethod<&UcxEngineWrap::Register>("register"),
                           InstanceMethod<&UcxEngineWrap::Deregister>("deregister"),
                           InstanceMethod<&UcxEngineWrap::LoadPeer>("loadPeer"),
                           InstanceMethod<&UcxEngineWrap::DropPeer>("dropPeer"),
                           InstanceMethod<&UcxEngineWrap::PeerStatus>("peerStatus"),
                           InstanceMethod<&UcxEngineWrap::SelfPeer>("selfPeer"),
                           InstanceMethod<&UcxEngineWrap::LoadRemote>("loadRemote"),
                           InstanceMethod<&UcxEngineWrap::LoadLocal>("loadLocal"),
                           InstanceMethod<&UcxEngineWrap::Unload>("unload"),
                           InstanceMethod<&UcxEngineWrap::Prep>("prep"),
                           InstanceMethod<&UcxEngineWrap::Release>("release"),
                           InstanceMethod<&UcxEngineWrap::GenNotif>("genNotif"),
                           InstanceMethod<&UcxEngineWrap::AuthCounters>("authCounters"),
                           InstanceMethod<&UcxEngineWrap::ForgeAm>("forgeAm"),
                           InstanceMethod<&UcxEngineWrap::Progress>("progress"),
                           InstanceMethod<&UcxEngineWrap::YieldCpu>("yieldCpu"),
                           InstanceMethod<&UcxEngineWrap::Ref>("ref"),
                           InstanceMethod<&UcxEngineWrap::Unref>("unref"),
                           InstanceMethod<&UcxEngineWrap::Close>("close"),
                       });
  }

  // new UcxEngine({ agentName, config: [k, v, k, v, ...], numWorkers,
  //                 errorMode: 'peer' | 'none' | 'process', progress: 'thread' | 'event',
  //                 timeoutMs, notifAck, onEvents })
  explicit UcxEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UcxEngineWrap>(info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    EngineOptions opts;
    opts.agentName = o.Get("agentName").As<Napi::String>().Utf8Value();
    Napi::Array cfg = o.Get("config").As<Napi::Array>();
    for (uint32_t i = 0; i + 1 < cfg.Length(); i += 2) {
      opts.config.emplace_back(cfg.Get(i).As<Napi::String>().Utf8Value(),
                               cfg.Get(i + 1).As<Napi::String>().Utf8Value());
    }
    opts.numWorkers = o.Get("numWorkers").As<Napi::Number>().Uint32Value();
    std::string errorMode = o.Get("errorMode").As<Napi::String>().Utf8Value();
    opts.errorMode = errorMode == "none"      ? ucx::ErrorMode::kNone
                     : errorMode == "process" ? ucx::ErrorMode::kProcess
                                              : ucx::ErrorMode::kPeer;
    std::string mode = o.Get("progress").As<Napi::String>().Utf8Value();
    opts.progress = mode == "event" ? ucx::ProgressMode::kEventFd : ucx::ProgressMode::kThread;
    if (o.Has("timeoutMs")) opts.timeoutMs = o.Get("timeoutMs").As<Napi::Number>().Uint32Value();
    if (o.Has("notifAck")) opts.notifAck = o.Get("notifAck").As<Napi::Boolean>().Value();

    shared_ = std::make_shared<Shared>();
    Shared* raw = shared_.get();
    auto* context = new std::shared_ptr<Shared>(shared_);
    Napi::String name = Napi::String::New(env, "nixl-ucx-events");
    napi_status st =
        napi_create_threadsafe_function(env, o.Get("onEvents"), nullptr, name, 0, 1, context,
                                        FreeContext, context, CallJs, &shared_->tsfn);
    if (st != napi_ok) {
      delete context;
      throw ToJsError(env, EngineError{kErrBackend, "cannot create the UCX event function"});
    }
    napi_unref_threadsafe_function(env, shared_->tsfn);  // idle: never keeps the loop alive
    // Called from UCX callbacks on any thread while the engine is open; the
    // handle outlives the engine (it is released only after Close).
    auto wake = [raw]() {
      napi_call_threadsafe_function(raw->tsfn, nullptr, napi_tsfn_nonblocking);
    };
    try {
      shared_->engine = std::make_unique<UcxEngine>(std::move(opts), wake);
    } catch (const EngineError& e) {
      shared_->closed = true;
      napi_release_threadsafe_function(shared_->tsfn, napi_tsfn_release);
      throw ToJsError(env, e);
    }
    uv_loop_s* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    shared_->engine->StartProgress(loop);
    guard_.Arm(env);
    // post() is the per-request call: an own function that finds the engine
    // through its data pointer, not a method that unwraps `this` (a private
    // property lookup that cost about a tenth of a 4 KiB shared-memory request).
    auto* hold = new std::shared_ptr<Shared>(shared_);
    Napi::Function post = Napi::Function::New(env, Post, "post", hold);
    post.AddFinalizer([](Napi::Env, std::shared_ptr<Shared>* h) { delete h; }, hold);
    info.This().As<Napi::Object>().DefineProperty(
        Napi::PropertyDescriptor::Value("post", post, napi_default));
  }

  // The finalizer: everything that touches the event loop is closed here; the
  // rest of the teardown (joining the progress thread, closing endpoints,
  // which may wait on the network for a bounded time) runs on a thread of its
  // own, so a collected engine never blocks the event loop.
  ~UcxEngineWrap() override {
    if (!shared_ || shared_->closed) return;
    shared_->closed = true;
    guard_.Disarm();
    shared_->engine->DetachFromLoop();
    Shared* s = shared_.get();
    s->closer = std::thread([s] {
      s->engine->Close();
      napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
    });
  }

 private:
  // The thread-safe function's finalizer (JavaScript thread): every holder let go.
  static void FreeContext(napi_env, void* data, void*) {
    auto* context = static_cast<std::shared_ptr<Shared>*>(data);
    if ((*context)->closer.joinable()) (*context)->closer.join();
    delete context;
  }

  static void CallJs(napi_env env, napi_value cb, void* context, void*) {
    const auto& s = *static_cast<std::shared_ptr<Shared>*>(context);
    if (env == nullptr || s->closed || !s->engine) return;
    DeliverQuietly(env, [&] { Deliver(s.get(), Napi::Env(env), cb); });
  }

  static void Deliver(Shared* s, Napi::Env env, napi_value cb) {
    s->engine->TakeBatch(&s->box);
    if (s->box.Empty()) return;
    Napi::HandleScope scope(env);
    auto args = BatchToJs(env, s->box);
    CallQuietly(env, cb, {args[0], args[1], args[2], args[3]});
  }

  UcxEngine& engine(Napi::Env env) {
    if (!shared_ || shared_->closed || !shared_->engine) {
      throw ToJsError(env, EngineError{kErrNotAllowed, "the UCX engine is closed"});
    }
    return *shared_->engine;
  }

  void CloseNow(std::chrono::milliseconds drain = std::chrono::milliseconds(2000)) {
    if (!shared_ || shared_->closed) return;
    shared_->closed = true;
    guard_.Disarm();
    if (shared_->engine) shared_->engine->Close(drain);
    napi_release_threadsafe_function(shared_->tsfn, napi_tsfn_release);
    shared_->owners.clear();
  }

  // ref()/unref(): the backend holds the event loop open while transfers are in flight.
  void Ref(const Napi::CallbackInfo& info) {
    if (shared_ && !shared_->closed) napi_ref_threadsafe_function(info.Env(), shared_->tsfn);
  }
  void Unref(const Napi::CallbackInfo& info) {
    if (shared_ && !shared_->closed) napi_unref_threadsafe_function(info.Env(), shared_->tsfn);
  }

  Napi::Value ConnInfo(const Napi::CallbackInfo& info) {
    auto bytes = engine(info.Env()).ConnInfo();
    return Napi::Buffer<uint8_t>::Copy(info.Env(), bytes.data(), bytes.size());
  }

  // growSlots() -> the next chunk of status slots (Int32Array), or undefined at the cap.
  Napi::Value GrowSlots(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    engine(env);
    return shared_->slots.Grow(env);
  }

  // takeBatch() -> [settled, failures, notifs, events] pending now, or
  // undefined: for a slot read as failed before its batch came.
  Napi::Value TakeBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!shared_ || shared_->closed || !shared_->engine) return env.Undefined();
    shared_->engine->AwaitPublished();
    shared_->engine->TakeBatch(&shared_->box);
    return BatchToArray(env, shared_->box);
  }

  // takePublished() -> the batch published so far, without waiting for settles
  // in progress (getNotifs: a notification is published before it is acknowledged).
  Napi::Value TakePublished(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!shared_ || shared_->closed || !shared_->engine) return env.Undefined();
    shared_->engine->TakeBatch(&shared_->box);
    return BatchToArray(env, shared_->box);
  }

  // alloc(bytes) -> Buffer over memory UCX allocated (zeroed). The Buffer owns
  // the allocation (and through it the UCP context): it stays valid after the
  // engine closed, and is unmapped when collected.
  Napi::Value Alloc(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t len = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    auto a = Guard(env, [&] { return engine(env).Allocate(len); });
    auto* owner = new std::shared_ptr<ucx::Allocation>(std::move(a));
    return Napi::Buffer<uint8_t>::New(
        env, reinterpret_cast<uint8_t*>((*owner)->addr), static_cast<size_t>(len),
        [](Napi::Env, uint8_t*, std::shared_ptr<ucx::Allocation>* o) { delete o; }, owner);
  }

  Napi::Value Register(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t addr = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    uint64_t len = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
    auto r = Guard(env, [&] { return engine(env).Register(addr, len); });
    if (info.Length() > 2 && info[2].IsObject()) {
      shared_->owners[r->handle] = Napi::Persistent(info[2].As<Napi::Object>());
    }
    guard_.Arm(env);  // even without an owner: the memory may still be freed at teardown
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Number::New(env, r->handle));
    out.Set(1u, Napi::Buffer<uint8_t>::Copy(env, r->publicData.data(), r->publicData.size()));
    return out;
  }

  void Deregister(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t h = info[0].As<Napi::Number>().Uint32Value();
    Guard(env, [&] { engine(env).Deregister(h); });
    shared_->owners.erase(h);
  }

  Napi::Value LoadPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = info[0].As<Napi::String>().Utf8Value();
    Napi::Uint8Array ci = info[1].As<Napi::Uint8Array>();
    uint32_t id =
        Guard(env, [&] { return engine(env).LoadPeer(name, ci.Data(), ci.ByteLength()); });
    return Napi::Number::New(env, id);
  }

  void DropPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    Guard(env, [&] { engine(env).DropPeer(id); });
  }

  Napi::Value PeerStatus(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string msg;
    int st = engine(env).PeerStatus(info[0].As<Napi::Number>().Uint32Value(), &msg);
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Number::New(env, st));
    out.Set(1u, Napi::String::New(env, msg));
    return out;
  }

  Napi::Value SelfPeer(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), engine(info.Env()).selfPeerId());
  }

  Napi::Value LoadRemote(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t peer = info[0].As<Napi::Number>().Uint32Value();
    Napi::Uint8Array pub = info[1].As<Napi::Uint8Array>();
    auto r = Guard(env, [&] { return engine(env).LoadRemote(peer, pub.Data(), pub.ByteLength()); });
    return Napi::Number::New(env, r->handle);
  }

  Napi::Value LoadLocal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t h = info[0].As<Napi::Number>().Uint32Value();
    auto r = Guard(env, [&] { return engine(env).LoadLocal(h); });
    return Napi::Number::New(env, r->handle);
  }

  void Unload(const Napi::CallbackInfo& info) {
    if (!shared_ || shared_->closed) return;
    shared_->engine->Unload(info[0].As<Napi::Number>().Uint32Value());
  }

  // prep(read, peerId, count, laddrs, lens, lregions, raddrs, rregions, slot, workerHint)
  Napi::Value Prep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool read = info[0].As<Napi::Boolean>().Value();
    uint32_t peer = info[1].As<Napi::Number>().Uint32Value();
    size_t count = info[2].As<Napi::Number>().Uint32Value();
    auto laddrs = info[3].As<Napi::Float64Array>();
    auto lens = info[4].As<Napi::Float64Array>();
    auto lregions = info[5].As<Napi::Uint32Array>();
    auto raddrs = info[6].As<Napi::Float64Array>();
    auto rregions = info[7].As<Napi::Uint32Array>();
    uint32_t slot = info[8].As<Napi::Number>().Uint32Value();
    int hint = info[9].As<Napi::Number>().Int32Value();
    if (laddrs.ElementLength() < count || lens.ElementLength() < count ||
        lregions.ElementLength() < count || raddrs.ElementLength() < count ||
        rregions.ElementLength() < count) {
      throw ToJsError(
          env, EngineError{kErrInvalidParam, "descriptor arrays are shorter than the count"});
    }
    UcxEngine& e = engine(env);
    int32_t* s = shared_->slots.At(slot);
    if (s == nullptr)
      throw ToJsError(env, EngineError{kErrInvalidParam, "status slot out of range"});
    uint32_t id = Guard(env, [&] {
      return e.Prep(read, peer, count, laddrs.Data(), lens.Data(), lregions.Data(), raddrs.Data(),
                    rregions.Data(), slot, s, hint);
    });
    return Napi::Number::New(env, id);
  }

  // post(xferId, gen, notif?) -> 0 | 1; throws an Error with .status on failure.
  static Napi::Value Post(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Shared& shared = **static_cast<std::shared_ptr<Shared>*>(info.Data());
    if (shared.closed || !shared.engine) {
      throw ToJsError(env, EngineError{kErrNotAllowed, "the UCX engine is closed"});
    }
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    uint32_t gen = info[1].As<Napi::Number>().Uint32Value();
    const uint8_t* notif = nullptr;
    size_t len = 0;
    bool has = info.Length() > 2 && info[2].IsTypedArray();
    if (has) {
      auto n = info[2].As<Napi::Uint8Array>();
      notif = n.Data();
      len = n.ByteLength();
    }
    std::string err;
    int st = shared.engine->Post(id, gen, notif, len, has, &err);
    if (st < 0) throw ToJsError(env, EngineError{st, err});
    return Napi::Number::New(env, st);
  }

  void Release(const Napi::CallbackInfo& info) {
    if (!shared_ || shared_->closed) return;
    shared_->engine->Release(info[0].As<Napi::Number>().Uint32Value());
  }

  void GenNotif(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t peer = info[0].As<Napi::Number>().Uint32Value();
    auto msg = info[1].As<Napi::Uint8Array>();
    Guard(env, [&] { engine(env).GenNotif(peer, msg.Data(), msg.ByteLength()); });
  }

  // authCounters() -> what the engine refused of its peers' messages (ucx/am_auth.h)
  Napi::Value AuthCounters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ucx::AuthCounters c;
    Guard(env, [&] { c = engine(env).authCounters(); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("hellos", Napi::Number::New(env, static_cast<double>(c.hellos)));
    o.Set("hellosRefused", Napi::Number::New(env, static_cast<double>(c.hellosRefused)));
    o.Set("noSession", Napi::Number::New(env, static_cast<double>(c.noSession)));
    o.Set("badMac", Napi::Number::New(env, static_cast<double>(c.badMac)));
    o.Set("replayed", Napi::Number::New(env, static_cast<double>(c.replayed)));
    o.Set("hellosStale", Napi::Number::New(env, static_cast<double>(c.hellosStale)));
    o.Set("hellosThrottled", Napi::Number::New(env, static_cast<double>(c.hellosThrottled)));
    o.Set("hellosChecked", Napi::Number::New(env, static_cast<double>(c.hellosChecked)));
    o.Set("hellosAnswered", Napi::Number::New(env, static_cast<double>(c.hellosAnswered)));
    o.Set("hellosRetried", Napi::Number::New(env, static_cast<double>(c.hellosRetried)));
    return o;
  }

  // forgeAm(peerId, amId, header, body): tests only, an arbitrary active message.
  void ForgeAm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t peer = info[0].As<Napi::Number>().Uint32Value();
    uint32_t id = info[1].As<Napi::Number>().Uint32Value();
    auto header = info[2].As<Napi::Uint8Array>();
    auto body = info[3].As<Napi::Uint8Array>();
    Guard(env, [&] {
      engine(env).ForgeAm(peer, id, header.Data(), header.ByteLength(), body.Data(),
                          body.ByteLength());
    });
  }

  void Progress(const Napi::CallbackInfo& info) {
    if (!shared_ || shared_->closed) return;
    shared_->engine->ProgressOnce();
  }

  // yieldCpu(): sched_yield, for a caller that polls a transfer in flight.
  void YieldCpu(const Napi::CallbackInfo&) { sched_yield(); }

  // close(drainMs = 2000)
  void Close(const Napi::CallbackInfo& info) {
    int64_t drain =
        info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : 2000;
    CloseNow(std::chrono::milliseconds(std::max<int64_t>(0, drain)));
  }

  std::shared_ptr<Shared> shared_;
  TeardownGuard guard_{[this] { CloseNow(); }};
};

Napi::Value UcxVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ucp_get_version_string());
}

Napi::Value UcxLibraryPath(const Napi::CallbackInfo& info) {
  Dl_info dl{};
  if (dladdr(reinterpret_cast<void*>(&ucp_get_version_string), &dl) != 0 && dl.dli_fname) {
    return Napi::String::New(info.Env(), dl.dli_fname);
  }
  return Napi::String::New(info.Env(), "");
}

}  // namespace

void InitUcx(Napi::Env env, Napi::Object exports) {
  exports.Set("UcxEngine", UcxEngineWrap::Define(env));
  exports.Set("ucxVersion", Napi::Function::New(env, UcxVersion));
  exports.Set("ucxLibraryPath", Napi::Function::New(env, UcxLibraryPath));
}

}  // namespace nixl
