// Per-environment state of the addon. Each module (memory, tcp, ucx) adds its
// exports in its own Init function; nothing lives in C++ globals, so the addon
// loads into worker threads and vitest's thread pools alike.
#pragma once
#include <napi.h>

namespace nixl {

void InitMemory(Napi::Env env, Napi::Object exports);
void InitBench(Napi::Env env, Napi::Object exports);
void InitTcp(Napi::Env env, Napi::Object exports);
#ifdef NIXL_HAVE_UCX
void InitUcx(Napi::Env env, Napi::Object exports);
#endif

}  // namespace nixl
