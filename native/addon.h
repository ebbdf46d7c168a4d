// Per-environment state of the addons. Each module (memory, tcp; ucx in
// its own nixl_ucx addon) adds its exports in its own Init function; nothing
// lives in C++ globals, so the addons load into worker threads and vitest's
// thread pools alike.
#pragma once
#include <napi.h>

namespace nixl {

void InitMemory(Napi::Env env, Napi::Object exports);
void InitTcp(Napi::Env env, Napi::Object exports);
void InitUcx(Napi::Env env, Napi::Object exports);

}  // namespace nixl
