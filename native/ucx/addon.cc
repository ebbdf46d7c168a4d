// The UCX addon (nixl_ucx.node), separate from nixl_native.node: linking UCX
// brings libucm, which installs process-wide memory hooks as it loads, so only
// processes that create a UCX backend should load it.
#include "addon.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nixl::InitUcx(env, exports);
  exports.Set("hasUcx", Napi::Boolean::New(env, true));
  return exports;
}

}  // namespace

NODE_API_MODULE(nixl_ucx, Init)
