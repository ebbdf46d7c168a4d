#include "addon.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nixl::InitMemory(env, exports);
  nixl::InitBench(env, exports);
  nixl::InitTcp(env, exports);
#ifdef NIXL_HAVE_UCX
  nixl::InitUcx(env, exports);
  exports.Set("hasUcx", Napi::Boolean::New(env, true));
#else
  exports.Set("hasUcx", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(nixl_native, Init)
