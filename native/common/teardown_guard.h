// Stops an engine early enough at environment teardown (process exit,
// worker ending or terminated), before Node frees the external buffers the
// engine serves from (see native/LIFETIME.md).
//
// Why: at teardown Node runs the free callbacks of external buffers
// (agent.alloc's memory) before any environment cleanup hook, newest buffer
// first. The guard is such a buffer too (one byte, created again after every
// registration), so its callback runs before that of any buffer registered
// with the engine, and stops the engine while its memory is still there.
// The environment cleanup hook stays the documented guarantee; this one only
// moves the stop earlier.
#pragma once
#include <napi.h>

#include <functional>

namespace nixl {

class TeardownGuard {
 public:
  explicit TeardownGuard(std::function<void()> stop) : stop_(std::move(stop)) {}
  ~TeardownGuard() { Disarm(); }
  TeardownGuard(const TeardownGuard&) = delete;
  TeardownGuard& operator=(const TeardownGuard&) = delete;

  // (Re)creates the sentinel buffer: newer than every buffer that exists now.
  void Arm(napi_env env);
  // The engine closed: the sentinel no longer stops anything. Idempotent.
  void Disarm();

 private:
  struct Sentinel {
    TeardownGuard* guard;
  };
  static void OnFree(napi_env env, void* data, void* hint);

  std::function<void()> stop_;
  napi_env env_ = nullptr;
  Sentinel* sentinel_ = nullptr;
  napi_ref ref_ = nullptr;  // holds the sentinel: only teardown frees it while armed
};

}  // namespace nixl
