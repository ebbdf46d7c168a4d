// Memory helpers: page-aligned allocation, the address of a JavaScript buffer,
// a view over memory owned elsewhere, and a raw copy between addresses.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "addon.h"

namespace nixl {
namespace {

uint64_t AddressArg(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
}

constexpr size_t kHugePage = 2u << 20;

// alloc(bytes) -> Buffer over page-aligned, zeroed memory freed by its finalizer.
// From 2 MiB up the memory is 2 MiB-aligned and asks for transparent huge
// pages: a kernel that pins pages for process_vm_readv/writev (the TCP
// backend's same-host path) or for RDMA then walks one entry per 2 MiB instead
// of one per 4 KiB, which about doubles cross-process copy bandwidth.
// The memory is mapped (never from malloc): freeing it returns it to the
// kernel at once, so agents that come and go do not leave the heap bloated
// (glibc raises its mmap threshold after large frees and then keeps them).
struct Mapping {
  void* base;
  size_t len;
};

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0) || requested > 1e15) {
    throw Napi::RangeError::New(env, "alloc: byte count must be a non-negative number");
  }
  size_t bytes = static_cast<size_t>(requested);
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  bool huge = bytes >= kHugePage;
  size_t align = huge ? kHugePage : page;
  size_t rounded = ((bytes == 0 ? 1 : bytes) + align - 1) / align * align;
  // Over-map by the alignment, then unmap the unaligned head and the tail.
  size_t span = rounded + (huge ? kHugePage : 0);
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw Napi::Error::New(env, "alloc: out of memory");
  uintptr_t start = (reinterpret_cast<uintptr_t>(raw) + align - 1) / align * align;
  size_t head = start - reinterpret_cast<uintptr_t>(raw);
  if (head > 0) munmap(raw, head);
  size_t tail = span - head - rounded;
  if (tail > 0) munmap(reinterpret_cast<void*>(start + rounded), tail);
  void* p = reinterpret_cast<void*>(start);
  // Advice only: where THP is off ("never") this fails and pages stay 4 KiB.
  if (huge) (void)madvise(p, rounded, MADV_HUGEPAGE);
  // Anonymous mappings are zero-filled by the kernel.
  auto* m = new Mapping{p, rounded};
  return Napi::Buffer<uint8_t>::New(
      env, static_cast<uint8_t*>(p), bytes,
      [](Napi::Env, uint8_t*, Mapping* m) {
        munmap(m->base, m->len);
        delete m;
      },
      m);
}

// addressOf(arrayBuffer | view) -> bigint address of its first byte.
Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  void* base = nullptr;
  if (v.IsArrayBuffer()) {
    base = v.As<Napi::ArrayBuffer>().Data();
  } else if (v.IsTypedArray()) {
    // The C API gives the data pointer directly, also for views over a
    // SharedArrayBuffer (which node-addon-api's ArrayBuffer() can't wrap).
    napi_typedarray_type type;
    size_t length = 0;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok) {
      throw Napi::TypeError::New(env, "addressOf: unreadable typed array");
    }
  } else if (v.IsDataView()) {
    size_t length = 0;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_dataview_info(env, v, &length, &base, &ab, &offset) != napi_ok) {
      throw Napi::TypeError::New(env, "addressOf: unreadable DataView");
    }
  } else {
    throw Napi::TypeError::New(env, "addressOf: expected an ArrayBuffer or an ArrayBuffer view");
  }
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(base)));
}

// viewOf(addr, len) -> ArrayBuffer over memory that something else owns.
// The caller keeps that memory alive for as long as the view is used.
Napi::Value ViewOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t addr = AddressArg(info[0]);
  size_t len = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  if (len == 0) return Napi::ArrayBuffer::New(env, 0);
  return Napi::ArrayBuffer::New(env, reinterpret_cast<void*>(addr), len);
}

// copy(dstAddr, srcAddr, len): memmove between two addresses.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  uint64_t dst = AddressArg(info[0]);
  uint64_t src = AddressArg(info[1]);
  size_t len = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  if (len) std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), len);
  return info.Env().Undefined();
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("alloc", Napi::Function::New(env, Alloc, "alloc"));
  exports.Set("addressOf", Napi::Function::New(env, AddressOf, "addressOf"));
  exports.Set("viewOf", Napi::Function::New(env, ViewOf, "viewOf"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
}

}  // namespace nixl
