#include "common/teardown_guard.h"

namespace nixl {

namespace {
// The sentinel's byte: never read or written, only its free callback matters.
uint8_t kSentinelByte = 0;
}  // namespace

void TeardownGuard::Arm(napi_env env) {
  DropSentinel();
  env_ = env;
  if (!hooked_) hooked_ = napi_add_env_cleanup_hook(env, OnCleanupHook, this) == napi_ok;
  auto* s = new Sentinel{this};
  napi_value buf = nullptr;
  if (napi_create_external_buffer(env, 1, &kSentinelByte, OnFree, s, &buf) != napi_ok) {
    delete s;  // no earlier stop; the cleanup hook still stops the engine
    return;
  }
  if (napi_create_reference(env, buf, 1, &ref_) != napi_ok) {
    s->guard = nullptr;  // the buffer frees `s` when collected
    return;
  }
  sentinel_ = s;
}

void TeardownGuard::Disarm() {
  DropSentinel();
  if (hooked_) napi_remove_env_cleanup_hook(env_, OnCleanupHook, this);
  hooked_ = false;
}

void TeardownGuard::DropSentinel() {
  if (sentinel_ == nullptr) return;
  sentinel_->guard = nullptr;  // freed by OnFree when the buffer is collected
  sentinel_ = nullptr;
  napi_delete_reference(env_, ref_);
  ref_ = nullptr;
}

void TeardownGuard::OnFree(napi_env, void*, void* hint) {
  auto* s = static_cast<Sentinel*>(hint);
  if (TeardownGuard* g = s->guard) {
    // Teardown (the reference kept the buffer from being collected): the
    // environment frees its references itself.
    g->sentinel_ = nullptr;
    g->ref_ = nullptr;
    g->stop_();
  }
  delete s;
}

void TeardownGuard::OnCleanupHook(void* arg) {
  auto* g = static_cast<TeardownGuard*>(arg);
  g->hooked_ = false;  // Node drops the hook itself once it has run
  g->stop_();
}

}  // namespace nixl
