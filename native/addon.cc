#include "addon.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nixl::InitMemory(env, exports);
  nixl::InitTcp(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nixl_native, Init)
