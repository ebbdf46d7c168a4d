// The one error type of the native boundary: a NIXL status and a message.
// It reaches JavaScript as an Error with a numeric `.status`, which
// backends/common/native-error.ts turns into the NixlError subclass of that
// status (InvalidParamError for -2, NotFoundError for -4, ...).
#pragma once
#include <napi.h>

#include <exception>
#include <string>

#include "common/status.h"

namespace nixl {

struct NativeError {
  int status;
  std::string message;
};

inline Napi::Error ToJsError(Napi::Env env, const NativeError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  err.Set("status", Napi::Number::New(env, e.status));
  return err;
}

// Runs `f`; a NativeError it throws becomes that JavaScript error, any other
// C++ exception (a failed bind, out of memory) an ERR_BACKEND one.
template <typename F>
auto Guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const NativeError& e) {
    throw ToJsError(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw ToJsError(env, NativeError{kErrBackend, e.what()});
  }
}

}  // namespace nixl
