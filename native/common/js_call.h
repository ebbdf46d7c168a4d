// Calling JavaScript from a thread-safe function's callback, under the
// lifetime rule (native/LIFETIME.md): a call into an environment that is
// going away does nothing, and nothing thrown here ever unwinds into Node.
#pragma once
#include <napi.h>

#include <initializer_list>

namespace nixl {

// Calls `fn(args...)` with `undefined` as `this`. Never throws:
//  - if the callback throws, its exception stays pending, so Node reports it
//    as an uncaught exception when the thread-safe function's call returns
//    (as for any JavaScript callback);
//  - if the environment can no longer run JavaScript (it is being torn down:
//    process exit, worker.terminate()), the call is dropped.
void CallQuietly(napi_env env, napi_value fn, std::initializer_list<napi_value> args);

// Runs `build` (which creates the JavaScript values of one batch and calls
// CallQuietly) and swallows the C++ exception node-addon-api raises when a
// value cannot be created because the environment is going away. A
// thread-safe function's callback must never throw: node-addon-api would try
// to rethrow into JavaScript, which fails during teardown, and std::terminate
// would abort the process.
template <typename F>
void DeliverQuietly(napi_env env, F&& build) {
  if (env == nullptr) return;  // the queue is being emptied at teardown
  try {
    build();
  } catch (const Napi::Error&) {
    // Only reachable when the environment is tearing down: the batch is dropped.
  } catch (const std::exception&) {
    // std::bad_alloc and the like: same, never across the boundary.
  }
}

}  // namespace nixl
