// The nixl_cuda module: what JavaScript asks of the CUDA driver. Device
// memory, pinned host memory, copies (asynchronous ones run on the libuv
// thread pool, each pool thread on its own CUDA stream per device, so that
// several chunks copy at once while the TCP engine moves others), pointer
// validation and IPC handles. Every function throws NotSupported with the
// reason when the driver is not usable; support() says so without throwing.
#include <napi.h>

#include <cstring>
#include <map>

#include "cuda/driver.h"

namespace nixl::cuda {
namespace {

uint64_t U64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
}

int Int(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0; }

Napi::Value SupportJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Support& s = Probe();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", s.ok);
  o.Set("reason", s.reason);
  o.Set("library", s.library);
  o.Set("driverVersion", s.driverVersion);
  Napi::Array devs = Napi::Array::New(env, s.devices.size());
  for (size_t i = 0; i < s.devices.size(); i++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("devId", s.devices[i].ordinal);
    d.Set("name", s.devices[i].name);
    devs.Set(static_cast<uint32_t>(i), d);
  }
  o.Set("devices", devs);
  return o;
}

// pointerInfo(addr, len, devId) -> { base, size }: throws InvalidParam unless
// [addr, addr + len) is device memory of device devId, inside one allocation.
Napi::Value PointerInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    uint64_t addr = U64(info[0]);
    uint64_t len = U64(info[1]);
    int devId = Int(info[2]);
    const DriverApi& a = Api();
    UseDevice(devId);
    unsigned memType = 0;
    int ordinal = -1;
    CUdeviceptr start = 0;
    size_t size = 0;
    int attrs[] = {kCU_POINTER_ATTRIBUTE_MEMORY_TYPE, kCU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                   kCU_POINTER_ATTRIBUTE_RANGE_START_ADDR, kCU_POINTER_ATTRIBUTE_RANGE_SIZE};
    void* data[] = {&memType, &ordinal, &start, &size};
    Check(a.cuPointerGetAttributes(4, attrs, data, addr), "cuPointerGetAttributes",
          kErrInvalidParam);
    std::string at = "address 0x" + [&] {
      char b[32];
      snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(addr));
      return std::string(b);
    }();
    // Unknown memory reads back as type 0 (the driver does not fail for it).
    if (memType != kCU_MEMORYTYPE_DEVICE) {
      throw NativeError{kErrInvalidParam, at + (memType == kCU_MEMORYTYPE_HOST
                                                    ? " is host memory, not VRAM"
                                                    : " is not memory the CUDA driver allocated")};
    }
    if (ordinal != devId) {
      throw NativeError{kErrInvalidParam, at + " is on CUDA device " + std::to_string(ordinal) +
                                              ", not devId " + std::to_string(devId)};
    }
    if (addr < start || addr + len > start + size || addr + len < addr) {
      throw NativeError{kErrInvalidParam, at + " + " + std::to_string(len) +
                                              " bytes runs past its allocation (" +
                                              std::to_string(size) + " bytes)"};
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("base", Napi::BigInt::New(env, static_cast<uint64_t>(start)));
    o.Set("size", Napi::Number::New(env, static_cast<double>(size)));
    return o;
  });
}

Napi::Value MemAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    size_t bytes = U64(info[0]);
    UseDevice(Int(info[1]));
    CUdeviceptr p = 0;
    Check(Api().cuMemAlloc(&p, bytes == 0 ? 1 : bytes), "cuMemAlloc");
    return Napi::BigInt::New(env, static_cast<uint64_t>(p));
  });
}

Napi::Value MemFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    UseDevice(Int(info[1]));
    Check(Api().cuMemFree(U64(info[0])), "cuMemFree");
    return env.Undefined();
  });
}

// hostAlloc(bytes) -> Buffer over pinned (page-locked) host memory, portable
// to every context, freed by its finalizer. Staging buffers for VRAM.
Napi::Value HostAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    size_t bytes = U64(info[0]);
    const DriverApi& a = Api();
    UseDevice(0);
    void* p = nullptr;
    Check(a.cuMemHostAlloc(&p, bytes == 0 ? 1 : bytes, kCU_MEMHOSTALLOC_PORTABLE),
          "cuMemHostAlloc");
    std::memset(p, 0, bytes);
    return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(p), bytes,
                                      [](Napi::Env, uint8_t* q) {
                                        // A finalizer never throws: a failure here leaks the
                                        // pages until exit, which the driver reclaims.
                                        try {
                                          UseDevice(0);
                                          Api().cuMemFreeHost(q);
                                        } catch (...) {
                                        }
                                      });
  });
}

enum class Kind { kH2D, kD2H, kD2D };

Kind KindArg(const Napi::Value& v) {
  std::string k = v.As<Napi::String>().Utf8Value();
  if (k == "h2d") return Kind::kH2D;
  if (k == "d2h") return Kind::kD2H;
  if (k == "d2d") return Kind::kD2D;
  throw NativeError{kErrInvalidParam, "copy kind must be h2d, d2h or d2d, not '" + k + "'"};
}

// One non-blocking stream per device and thread (the JavaScript thread and
// each libuv pool thread), created on first use, kept until exit.
CUstream StreamFor(int devId) {
  thread_local std::map<int, CUstream> streams;
  auto it = streams.find(devId);
  if (it != streams.end()) return it->second;
  CUstream s = nullptr;
  Check(Api().cuStreamCreate(&s, kCU_STREAM_NON_BLOCKING), "cuStreamCreate");
  streams[devId] = s;
  return s;
}

// Enqueues the copy on this thread's stream and waits for it.
void CopyOnStream(Kind kind, uint64_t dst, uint64_t src, size_t len, int devId) {
  const DriverApi& a = Api();
  UseDevice(devId);
  CUstream s = StreamFor(devId);
  switch (kind) {
    case Kind::kH2D:
      Check(a.cuMemcpyHtoDAsync(dst, reinterpret_cast<const void*>(src), len, s),
            "cuMemcpyHtoDAsync");
      break;
    case Kind::kD2H:
      Check(a.cuMemcpyDtoHAsync(reinterpret_cast<void*>(dst), src, len, s), "cuMemcpyDtoHAsync");
      break;
    case Kind::kD2D:
      Check(a.cuMemcpyDtoDAsync(dst, src, len, s), "cuMemcpyDtoDAsync");
      break;
  }
  Check(a.cuStreamSynchronize(s), "cuStreamSynchronize");
}

class CopyWorker : public Napi::AsyncWorker {
 public:
  CopyWorker(Napi::Env env, Kind kind, uint64_t dst, uint64_t src, size_t len, int devId)
      : Napi::AsyncWorker(env, "nixl.cuda.copy"),
        deferred_(Napi::Promise::Deferred::New(env)),
        kind_(kind),
        dst_(dst),
        src_(src),
        len_(len),
        devId_(devId) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      CopyOnStream(kind_, dst_, src_, len_, devId_);
    } catch (const NativeError& e) {
      failed_ = true;
      error_ = e;
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failed_) {
      deferred_.Reject(ToJsError(env, error_).Value());
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Kind kind_;
  uint64_t dst_, src_;
  size_t len_;
  int devId_;
  bool failed_ = false;
  NativeError error_{};
};

// copy(dst, src, len, kind, devId) -> Promise<void>, on a pool thread's stream.
Napi::Value CopyAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Api();
    auto* w = new CopyWorker(env, KindArg(info[3]), U64(info[0]), U64(info[1]), U64(info[2]),
                             Int(info[4]));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  });
}

// copySync(dst, src, len, kind, devId): the same copy, on the calling thread.
Napi::Value CopySync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    CopyOnStream(KindArg(info[3]), U64(info[0]), U64(info[1]), U64(info[2]), Int(info[4]));
    return env.Undefined();
  });
}

Napi::Value Memset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    UseDevice(Int(info[3]));
    Check(Api().cuMemsetD8(U64(info[0]), static_cast<unsigned char>(Int(info[1])), U64(info[2])),
          "cuMemsetD8");
    return env.Undefined();
  });
}

// ipcGetHandle(addr, devId) -> Buffer(64): a handle another process of this
// host opens with ipcOpen to map the allocation that contains addr.
Napi::Value IpcGetHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    UseDevice(Int(info[1]));
    CUipcMemHandle h{};
    Check(Api().cuIpcGetMemHandle(&h, U64(info[0])), "cuIpcGetMemHandle", kErrNotSupported);
    return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(h.reserved),
                                       sizeof h.reserved);
  });
}

// ipcOpen(handle, devId) -> bigint: the base of the peer's allocation, mapped here.
Napi::Value IpcOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto buf = info[0].As<Napi::Uint8Array>();
    if (buf.ByteLength() != kCU_IPC_HANDLE_SIZE) {
      throw NativeError{kErrInvalidParam,
                        "a CUDA IPC handle is 64 bytes, not " + std::to_string(buf.ByteLength())};
    }
    UseDevice(Int(info[1]));
    CUipcMemHandle h{};
    std::memcpy(h.reserved, buf.Data(), sizeof h.reserved);
    CUdeviceptr p = 0;
    Check(Api().cuIpcOpenMemHandle(&p, h, kCU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
          "cuIpcOpenMemHandle", kErrNotSupported);
    return Napi::BigInt::New(env, static_cast<uint64_t>(p));
  });
}

Napi::Value IpcClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    UseDevice(Int(info[1]));
    Check(Api().cuIpcCloseMemHandle(U64(info[0])), "cuIpcCloseMemHandle");
    return env.Undefined();
  });
}

Napi::Object InitCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("support", Napi::Function::New(env, SupportJs, "support"));
  exports.Set("pointerInfo", Napi::Function::New(env, PointerInfo, "pointerInfo"));
  exports.Set("memAlloc", Napi::Function::New(env, MemAlloc, "memAlloc"));
  exports.Set("memFree", Napi::Function::New(env, MemFree, "memFree"));
  exports.Set("hostAlloc", Napi::Function::New(env, HostAlloc, "hostAlloc"));
  exports.Set("copy", Napi::Function::New(env, CopyAsync, "copy"));
  exports.Set("copySync", Napi::Function::New(env, CopySync, "copySync"));
  exports.Set("memset", Napi::Function::New(env, Memset, "memset"));
  exports.Set("ipcGetHandle", Napi::Function::New(env, IpcGetHandle, "ipcGetHandle"));
  exports.Set("ipcOpen", Napi::Function::New(env, IpcOpen, "ipcOpen"));
  exports.Set("ipcClose", Napi::Function::New(env, IpcClose, "ipcClose"));
  return exports;
}

}  // namespace
}  // namespace nixl::cuda

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return nixl::cuda::InitCuda(env, exports);
}
}  // namespace

NODE_API_MODULE(nixl_cuda, Init)
