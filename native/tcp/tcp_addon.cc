// JavaScript binding of the TCP engine: a `TcpEngine` class. Transfer status
// lives in a shared Int32Array (`slots`); completions, notifications and peer
// events arrive through one ThreadSafeFunction call per batch.
#include <unistd.h>

#include <memory>
#include <stdexcept>

#include "addon.h"
#include "tcp/engine.h"

namespace nixl {
namespace {

using tcp::Engine;
using tcp::EngineConfig;
using tcp::Outbox;
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

class TcpEngine : public Napi::ObjectWrap<TcpEngine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TcpEngine",
                       {
                           InstanceMethod("info", &TcpEngine::Info),
                           InstanceMethod("slots", &TcpEngine::Slots),
                           InstanceMethod("registerRegion", &TcpEngine::RegisterRegion),
                           InstanceMethod("deregisterRegion", &TcpEngine::DeregisterRegion),
                           InstanceMethod("addPeer", &TcpEngine::AddPeer),
                           InstanceMethod("removePeer", &TcpEngine::RemovePeer),
                           InstanceMethod("connect", &TcpEngine::Connect),
                           InstanceMethod("prep", &TcpEngine::Prep),
                           InstanceMethod("post", &TcpEngine::Post),
                           InstanceMethod("release", &TcpEngine::Release),
                           InstanceMethod("runQueuedCommands", &TcpEngine::RunQueuedCommands),
                           InstanceMethod("genNotif", &TcpEngine::GenNotif),
                           InstanceMethod("ref", &TcpEngine::Ref),
                           InstanceMethod("unref", &TcpEngine::Unref),
                           InstanceMethod("close", &TcpEngine::Close),
                       });
  }

  // new TcpEngine(options, onBatch)
  explicit TcpEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpEngine>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "TcpEngine(options, onBatch)");
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
    cfg.stripeMinBytes =
        static_cast<uint64_t>(o.Get("stripeMinBytes").As<Napi::Number>().Int64Value());
    cfg.copyThreads = o.Get("copyThreads").As<Napi::Number>().Uint32Value();
    cfg.name = o.Get("name").As<Napi::String>().Utf8Value();
    capacity_ = o.Get("slots").As<Napi::Number>().Uint32Value();

    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, size_t(capacity_) * 4);
    slotsRef_ = Napi::Persistent(Napi::Int32Array::New(env, capacity_, ab, 0));
    int32_t* slots = static_cast<int32_t*>(ab.Data());

    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "nixl-tcp", 0, 1);
    tsfn_.Unref(env);
    engine_ = std::make_unique<Engine>(cfg, slots, capacity_, [this] {
      tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function cb) { Deliver(env, cb); });
    });
    try {
      engine_->Start();
    } catch (const std::exception& e) {
      engine_.reset();
      tsfn_.Release();
      throw Napi::Error::New(env, e.what());
    }
  }

  ~TcpEngine() override {
    if (engine_) {
      engine_->Stop();
      engine_.reset();
      tsfn_.Release();
    }
  }

 private:
  Engine& Live(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "TCP engine is closed");
    return *engine_;
  }

  void Deliver(Napi::Env env, Napi::Function cb) {
    if (!engine_) return;
    engine_->TakeOutbox(&box_);
    if (box_.Empty()) return;
    Napi::Value completions = env.Undefined();
    Napi::Value failures = env.Undefined();
    Napi::Value notifs = env.Undefined();
    Napi::Value events = env.Undefined();
    if (!box_.completions.empty()) {
      auto arr = Napi::Int32Array::New(env, box_.completions.size() * 2);
      Napi::Array fails;
      uint32_t nf = 0;
      for (size_t i = 0; i < box_.completions.size(); i++) {
        const auto& c = box_.completions[i];
        arr[2 * i] = static_cast<int32_t>(c.slot);
        arr[2 * i + 1] = static_cast<int32_t>(c.gen);
        if (c.status != 0) {
          if (nf == 0) fails = Napi::Array::New(env);
          Napi::Array f = Napi::Array::New(env, 4);
          f.Set(0u, Napi::Number::New(env, c.slot));
          f.Set(1u, Napi::Number::New(env, c.gen));
          f.Set(2u, Napi::Number::New(env, c.status));
          f.Set(3u, Napi::String::New(env, c.message));
          fails.Set(nf++, f);
        }
      }
      completions = arr;
      if (nf > 0) failures = fails;
    }
    if (!box_.notifs.empty()) {
      Napi::Array arr = Napi::Array::New(env, box_.notifs.size());
      for (size_t i = 0; i < box_.notifs.size(); i++) {
        auto& n = box_.notifs[i];
        Napi::Array pair = Napi::Array::New(env, 2);
        pair.Set(0u, Napi::String::New(env, n.agent));
        pair.Set(1u, Napi::Buffer<uint8_t>::Copy(env, n.msg.data(), n.msg.size()));
        arr.Set(static_cast<uint32_t>(i), pair);
      }
      notifs = arr;
    }
    if (!box_.events.empty()) {
      Napi::Array arr = Napi::Array::New(env, box_.events.size());
      for (size_t i = 0; i < box_.events.size(); i++) {
        auto& e = box_.events[i];
        Napi::Array ev = Napi::Array::New(env, 4);
        ev.Set(0u, Napi::Number::New(env, e.kind));
        ev.Set(1u, Napi::Number::New(env, e.id));
        ev.Set(2u, Napi::Number::New(env, e.status));
        ev.Set(3u, Napi::String::New(env, e.message));
        arr.Set(static_cast<uint32_t>(i), ev);
      }
      events = arr;
    }
    cb.Call({completions, failures, notifs, events});
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("port", e.port());
    o.Set("secret", Napi::Buffer<uint8_t>::Copy(env, e.secret(), 32));
    o.Set("pid", Napi::Number::New(env, getpid()));
    return o;
  }

  Napi::Value Slots(const Napi::CallbackInfo& info) { return slotsRef_.Value(); }

  // registerRegion(addr, len) -> 12-byte public data: regionId u32 LE, key u64 LE.
  Napi::Value RegisterRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t key = 0;
    uint32_t id = Live(env).RegisterRegion(U64Arg(info[0]), U64Arg(info[1]), &key);
    auto buf = Napi::Buffer<uint8_t>::New(env, 12);
    std::memcpy(buf.Data(), &id, 4);
    std::memcpy(buf.Data() + 4, &key, 8);
    return buf;
  }

  Napi::Value DeregisterRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return Napi::Boolean::New(env, false);
    return Napi::Boolean::New(env,
                              engine_->DeregisterRegion(info[0].As<Napi::Number>().Uint32Value()));
  }

  // addPeer(name, host, port, secret, sameHost) -> peer id
  Napi::Value AddPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto secret = info[3].As<Napi::Uint8Array>();
    if (secret.ByteLength() != 32) throw Napi::TypeError::New(env, "secret must be 32 bytes");
    uint32_t id = Live(env).AddPeer(info[0].As<Napi::String>().Utf8Value(),
                                    info[1].As<Napi::String>().Utf8Value(),
                                    info[2].As<Napi::Number>().Int32Value(), secret.Data(),
                                    info[4].As<Napi::Boolean>().Value());
    return Napi::Number::New(env, id);
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    if (engine_) engine_->RemovePeer(info[0].As<Napi::Number>().Uint32Value());
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
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    if (slot >= capacity_) throw Napi::RangeError::New(env, "slot out of range");
    auto words = info[3].As<Napi::Uint32Array>();
    size_t n = words.ElementLength() / kDescWords;
    std::vector<XferDesc> descs(n);
    const uint32_t* w = words.Data();
    auto u64 = [](const uint32_t* p) { return uint64_t(p[0]) | (uint64_t(p[1]) << 32); };
    for (size_t i = 0; i < n; i++) {
      const uint32_t* d = w + i * kDescWords;
      descs[i] = XferDesc{u64(d), u64(d + 2), u64(d + 4), u64(d + 6), d[8]};
    }
    Live(env).Prep(slot,
                   info[1].As<Napi::Number>().Uint32Value() == 0 ? XferOp::kWrite : XferOp::kRead,
                   info[2].As<Napi::Number>().Uint32Value(), std::move(descs));
    return env.Undefined();
  }

  // post(slot, gen, notif?)
  Napi::Value Post(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    uint32_t gen = info[1].As<Napi::Number>().Uint32Value();
    if (info.Length() > 2 && info[2].IsTypedArray()) {
      auto n = info[2].As<Napi::Uint8Array>();
      Live(env).Post(slot, gen, n.Data(), n.ByteLength(), true);
    } else {
      Live(env).Post(slot, gen, nullptr, 0, false);
    }
    return env.Undefined();
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    if (engine_) engine_->Release(info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value RunQueuedCommands(const Napi::CallbackInfo& info) {
    if (engine_) engine_->RunQueuedCommands();
    return info.Env().Undefined();
  }

  Napi::Value GenNotif(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = info[1].As<Napi::Uint8Array>();
    Live(env).GenNotif(info[0].As<Napi::Number>().Uint32Value(), m.Data(), m.ByteLength());
    return env.Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (engine_) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (engine_) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (engine_) {
      engine_->Stop();
      engine_.reset();
      tsfn_.Release();
    }
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::Reference<Napi::Int32Array> slotsRef_;
  uint32_t capacity_ = 0;
  Outbox box_;
};

}  // namespace

void InitTcp(Napi::Env env, Napi::Object exports) {
  exports.Set("TcpEngine", TcpEngine::Define(env));
}

}  // namespace nixl
