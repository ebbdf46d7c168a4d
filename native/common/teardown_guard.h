// Stops an engine at environment teardown (process exit, worker ending or
// terminated), while the environment exists and before Node frees the
// external buffers the engine serves from (see native/LIFETIME.md).
//
// Two ways, whichever comes first: an environment cleanup hook (the
// documented guarantee), and a sentinel. At teardown Node runs the free
// callbacks of external buffers (agent.alloc's memory) before any cleanup
// hook, newest buffer first. The sentinel is such a buffer too (one byte,
// created again at every Arm, i.e. after every registration), so its callback
// runs before that of any buffer registered with the engine, and stops the
// engine while its memory is still there.
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

  // (Re)creates the sentinel, newer than every buffer that exists now, and
  // registers the cleanup hook if it is not yet.
  void Arm(napi_env env);
  // The engine closed: nothing stops it any more. Idempotent.
  void Disarm();

 private:
  struct Sentinel {
    TeardownGuard* guard;
  };
  static void OnFree(napi_env env, void* data, void* hint);
  static void OnCleanupHook(void* arg);
  void DropSentinel();

  std::function<void()> stop_;
  napi_env env_ = nullptr;
  bool hooked_ = false;  // the cleanup hook is registered
  Sentinel* sentinel_ = nullptr;
  napi_ref ref_ = nullptr;  // holds the sentinel: only teardown frees it while armed
};

}  // namespace nixl
