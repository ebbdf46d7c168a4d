// The nixl_file addon: the JavaScript class `FileEngine` over the FILE engine
// (engine.h). Transfer status lives in the status slots
// (common/status_slots.h); completions arrive through one thread-safe
// function call per batch (common/completion_batch.h), as for TCP and UCX.
// Its own addon, so that only processes that create a FILE backend load
// liburing.
#include <memory>
#include <unordered_map>

#include "common/completion_batch.h"
#include "common/js_call.h"
#include "common/native_error.h"
#include "common/status_slots.h"
#include "common/teardown_guard.h"
#include "file/engine.h"

namespace nixl {
namespace {

using file::Engine;
using file::EngineConfig;
using file::XferDesc;
using file::XferOp;

constexpr int kDescWords = 4;  // fileId, offset, addr, len (doubles: exact below 2^53)

// Shared by the wrapper and the thread-safe function, freed by its finalizer
// once the wrapper let go (native/LIFETIME.md §3). Engine threads call the
// thread-safe function only while the engine runs, and Stop joins them first.
struct Host {
  explicit Host(uint32_t maxSlots) : slots(maxSlots) {}
  std::unique_ptr<Engine> engine;
  napi_threadsafe_function tsfn = nullptr;
  bool closed = false;
  StatusSlots slots;
  CompletionBatch box;  // JavaScript thread only
};

class FileEngineWrap : public Napi::ObjectWrap<FileEngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FileEngine",
                       {
                           InstanceMethod("info", &FileEngineWrap::Info),
                           InstanceMethod("growSlots", &FileEngineWrap::GrowSlots),
                           InstanceMethod("takeBatch", &FileEngineWrap::TakeBatch),
                           InstanceMethod("registerFile", &FileEngineWrap::RegisterFile),
                           InstanceMethod("deregisterFile", &FileEngineWrap::DeregisterFile),
                           InstanceMethod("prep", &FileEngineWrap::Prep),
                           InstanceMethod("post", &FileEngineWrap::Post),
                           InstanceMethod("release", &FileEngineWrap::Release),
                           InstanceMethod("ref", &FileEngineWrap::Ref),
                           InstanceMethod("unref", &FileEngineWrap::Unref),
                           InstanceMethod("close", &FileEngineWrap::Close),
                       });
  }

  // new FileEngine({ api, queueDepth, poolThreads, chunkBytes, slots }, onBatch)
  explicit FileEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FileEngineWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsFunction()) {
      throw ToJsError(env, NativeError{kErrInvalidParam, "FileEngine(options, onBatch)"});
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EngineConfig cfg;
    std::string api = o.Get("api").As<Napi::String>().Utf8Value();
    cfg.api = api == "uring"  ? EngineConfig::Api::kUring
              : api == "pool" ? EngineConfig::Api::kPool
                              : EngineConfig::Api::kAuto;
    cfg.queueDepth = o.Get("queueDepth").As<Napi::Number>().Uint32Value();
    cfg.poolThreads = o.Get("poolThreads").As<Napi::Number>().Uint32Value();
    cfg.chunkBytes = static_cast<uint64_t>(o.Get("chunkBytes").As<Napi::Number>().Int64Value());
    cfg.inlineBytes = static_cast<uint64_t>(o.Get("inlineBytes").As<Napi::Number>().Int64Value());
    auto* host = new Host(o.Get("slots").As<Napi::Number>().Uint32Value());
    Napi::String name = Napi::String::New(env, "nixl-file");
    napi_status st = napi_create_threadsafe_function(env, info[1], nullptr, name, 0, 1, nullptr,
                                                     FreeHost, host, CallJs, &host->tsfn);
    if (st != napi_ok) {
      delete host;
      throw ToJsError(
          env, NativeError{kErrBackend, "FileEngine: cannot create its thread-safe function"});
    }
    napi_unref_threadsafe_function(env, host->tsfn);  // idle: never keeps the loop alive
    host->engine = std::make_unique<Engine>(cfg, &host->slots, [host] {
      napi_call_threadsafe_function(host->tsfn, nullptr, napi_tsfn_nonblocking);
    });
    host_ = host;
    try {
      Guard(env, [&] { host->engine->Start(); });
    } catch (...) {
      host->closed = true;
      napi_release_threadsafe_function(host->tsfn, napi_tsfn_release);
      host_ = nullptr;
      throw;
    }
    guard_.Arm(env);
  }

  // The finalizer: stops the engine (joining its threads after the I/O in
  // the kernel finished) and lets go; FreeHost frees the rest.
  ~FileEngineWrap() override { Shutdown(); }

 private:
  void Shutdown() {
    if (host_ == nullptr) return;
    host_->closed = true;
    guard_.Disarm();
    host_->engine->Stop();
    napi_release_threadsafe_function(host_->tsfn, napi_tsfn_release);
    host_ = nullptr;
  }

  static void FreeHost(napi_env, void*, void* hint) { delete static_cast<Host*>(hint); }

  Engine& Live(Napi::Env env) {
    if (host_ == nullptr)
      throw ToJsError(env, NativeError{kErrNotAllowed, "the FILE engine is closed"});
    return *host_->engine;
  }

  static void CallJs(napi_env env, napi_value cb, void* context, void*) {
    auto* host = static_cast<Host*>(context);
    if (env == nullptr || host->closed) return;
    DeliverQuietly(env, [&] {
      Napi::Env e(env);
      host->engine->TakeBatch(&host->box);
      Napi::HandleScope scope(e);
      // Also called with an empty batch: a released transfer's last I/O
      // ended, and JavaScript may let its memory go.
      auto args = BatchToJs(e, host->box);
      CallQuietly(env, cb, {args[0], args[1], args[2], args[3]});
    });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("api", e.usingUring() ? "uring" : "pool");
    o.Set("uringError", e.uringError());
    return o;
  }

  Napi::Value GrowSlots(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    return host_->slots.Grow(env);
  }

  Napi::Value TakeBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (host_ == nullptr) return env.Undefined();
    host_->engine->TakeBatch(&host_->box);
    return BatchToArray(env, host_->box);
  }

  // registerFile(fd) -> { id, direct, readable, writable }: the engine keeps
  // its own duplicate of the descriptor until deregisterFile(id).
  Napi::Value RegisterFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Live(env);
    file::FileInfo fi =
        Guard(env, [&] { return e.RegisterFile(info[0].As<Napi::Number>().Int32Value()); });
    guard_.Arm(env);  // newer than every buffer that may be registered with the agent now
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", fi.id);
    o.Set("direct", fi.direct);
    o.Set("readable", fi.readable);
    o.Set("writable", fi.writable);
    return o;
  }

  Napi::Value DeregisterFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (host_ == nullptr) return Napi::Boolean::New(env, false);
    return Napi::Boolean::New(
        env, host_->engine->DeregisterFile(info[0].As<Napi::Number>().Uint32Value()));
  }

  // prep(slot, op (0 WRITE, 1 READ), Float64Array of 4 numbers per descriptor)
  Napi::Value Prep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Live(env);
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    int32_t* status = host_->slots.At(slot);
    if (status == nullptr) {
      throw ToJsError(env, NativeError{kErrInvalidParam, "status slot out of range"});
    }
    auto words = info[2].As<Napi::Float64Array>();
    size_t n = words.ElementLength() / kDescWords;
    std::vector<XferDesc> descs(n);
    const double* w = words.Data();
    for (size_t i = 0; i < n; i++) {
      const double* d = w + i * kDescWords;
      descs[i] = XferDesc{uint32_t(d[0]), uint64_t(d[1]), uint64_t(d[2]), uint64_t(d[3])};
    }
    XferOp op = info[1].As<Napi::Number>().Uint32Value() == 0 ? XferOp::kWrite : XferOp::kRead;
    Guard(env, [&] { e.Prep(slot, status, op, descs); });
    guard_.Arm(env);
    return env.Undefined();
  }

  // post(slot, gen)
  Napi::Value Post(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Live(env);
    Guard(env, [&] {
      e.Post(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value());
    });
    return env.Undefined();
  }

  // release(slot) -> true while I/O of the transfer is still in the kernel
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (host_ == nullptr) return Napi::Boolean::New(env, false);
    return Napi::Boolean::New(env,
                              host_->engine->Release(info[0].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (host_ != nullptr) napi_ref_threadsafe_function(info.Env(), host_->tsfn);
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (host_ != nullptr) napi_unref_threadsafe_function(info.Env(), host_->tsfn);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Host* host_ = nullptr;  // freed by FreeHost, never by this wrapper; null once let go
  TeardownGuard guard_{[this] { Shutdown(); }};
};

}  // namespace
}  // namespace nixl

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("FileEngine", nixl::FileEngineWrap::Define(env));
#ifdef NIXL_HAVE_URING
  exports.Set("hasUring", Napi::Boolean::New(env, true));
#else
  exports.Set("hasUring", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(nixl_file, Init)
