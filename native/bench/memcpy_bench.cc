// Single-thread copy benchmark: the memcpy baseline of nixl-ts-bench, in an
// addon of its own (nixl_bench.node) that only benchmarks load. The loop and
// its clock live in C++ so the figure is memcpy's, not the JS call cost.
#include <napi.h>
#include <time.h>

#include <cstdint>
#include <cstring>

namespace nixl {
namespace {

uint8_t* BufferData(const Napi::Value& v, size_t* len) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(v.Env(), "memcpyBench: expected a Buffer");
  auto b = v.As<Napi::Buffer<uint8_t>>();
  *len = b.Length();
  return b.Data();
}

double NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// memcpyBench(dst, src, blockBytes, blocks, rounds) -> nanoseconds spent doing
// `rounds` times `blocks` copies of blockBytes, block i from src+i*block to
// dst+i*block (a batch, laid out as the transfer benchmark lays it out).
Napi::Value MemcpyBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t dstLen = 0;
  size_t srcLen = 0;
  uint8_t* dst = BufferData(info[0], &dstLen);
  const uint8_t* src = BufferData(info[1], &srcLen);
  double block = info[2].As<Napi::Number>().DoubleValue();
  double blocks = info[3].As<Napi::Number>().DoubleValue();
  double rounds = info[4].As<Napi::Number>().DoubleValue();
  if (!(block >= 1) || !(blocks >= 1) || !(rounds >= 1) || block * blocks > dstLen ||
      block * blocks > srcLen) {
    throw Napi::RangeError::New(env, "memcpyBench: blocks do not fit the buffers");
  }
  size_t b = static_cast<size_t>(block);
  size_t n = static_cast<size_t>(blocks);
  uint64_t r = static_cast<uint64_t>(rounds);
  double start = NowNs();
  for (uint64_t k = 0; k < r; k++) {
    for (size_t i = 0; i < n; i++) std::memcpy(dst + i * b, src + i * b, b);
    // Keep the compiler from merging or dropping rounds.
    asm volatile("" : : "r"(dst) : "memory");
  }
  return Napi::Number::New(env, NowNs() - start);
}

}  // namespace
}  // namespace nixl

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("memcpyBench", Napi::Function::New(env, nixl::MemcpyBench, "memcpyBench"));
  return exports;
}

}  // namespace

NODE_API_MODULE(nixl_bench, Init)
