#include "cuda/driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace nixl::cuda {
namespace {

DriverApi api{};
Support support{};
std::once_flag probed;
std::mutex ctxMu;
std::vector<CUcontext> contexts;  // primary context per ordinal, once retained

// Loads each entry point by its versioned symbol; the first one missing names the library as
// unusable.
const char* LoadSymbols(void* lib) {
#define NIXL_CU_LOAD(field, symbol)                                      \
  api.field = reinterpret_cast<decltype(api.field)>(dlsym(lib, symbol)); \
  if (!api.field) return symbol;
  NIXL_CU_LOAD(cuInit, "cuInit")
  NIXL_CU_LOAD(cuDriverGetVersion, "cuDriverGetVersion")
  NIXL_CU_LOAD(cuGetErrorString, "cuGetErrorString")
  NIXL_CU_LOAD(cuDeviceGetCount, "cuDeviceGetCount")
  NIXL_CU_LOAD(cuDeviceGet, "cuDeviceGet")
  NIXL_CU_LOAD(cuDeviceGetName, "cuDeviceGetName")
  NIXL_CU_LOAD(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
  NIXL_CU_LOAD(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2")
  NIXL_CU_LOAD(cuCtxSetCurrent, "cuCtxSetCurrent")
  NIXL_CU_LOAD(cuPointerGetAttributes, "cuPointerGetAttributes")
  NIXL_CU_LOAD(cuMemAlloc, "cuMemAlloc_v2")
  NIXL_CU_LOAD(cuMemFree, "cuMemFree_v2")
  NIXL_CU_LOAD(cuMemHostAlloc, "cuMemHostAlloc")
  NIXL_CU_LOAD(cuMemFreeHost, "cuMemFreeHost")
  NIXL_CU_LOAD(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")
  NIXL_CU_LOAD(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")
  NIXL_CU_LOAD(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")
  NIXL_CU_LOAD(cuMemsetD8, "cuMemsetD8_v2")
  NIXL_CU_LOAD(cuStreamCreate, "cuStreamCreate")
  NIXL_CU_LOAD(cuStreamDestroy, "cuStreamDestroy_v2")
  NIXL_CU_LOAD(cuStreamSynchronize, "cuStreamSynchronize")
  NIXL_CU_LOAD(cuEventCreate, "cuEventCreate")
  NIXL_CU_LOAD(cuEventRecord, "cuEventRecord")
  NIXL_CU_LOAD(cuEventQuery, "cuEventQuery")
  NIXL_CU_LOAD(cuEventSynchronize, "cuEventSynchronize")
  NIXL_CU_LOAD(cuEventDestroy, "cuEventDestroy_v2")
  NIXL_CU_LOAD(cuIpcGetMemHandle, "cuIpcGetMemHandle")
  NIXL_CU_LOAD(cuIpcOpenMemHandle, "cuIpcOpenMemHandle_v2")
  NIXL_CU_LOAD(cuIpcCloseMemHandle, "cuIpcCloseMemHandle")
#undef NIXL_CU_LOAD
  return nullptr;
}

std::string ErrorName(CUresult r) {
  const char* s = nullptr;
  if (api.cuGetErrorString && api.cuGetErrorString(r, &s) == kCUDA_SUCCESS && s) {
    return std::string(s) + " (" + std::to_string(r) + ")";
  }
  return "CUDA error " + std::to_string(r);
}

void DoProbe() {
  const char* env = std::getenv("NIXL_CUDA_LIBRARY");
  support.library = env && *env ? env : "libcuda.so.1";
  // The driver is never unloaded: its threads and contexts live until exit.
  void* lib = dlopen(support.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    support.reason = support.library + " not found (no NVIDIA driver on this machine): " +
                     (err ? err : "dlopen failed");
    return;
  }
  if (const char* missing = LoadSymbols(lib)) {
    support.reason =
        support.library + " lacks " + missing + " (not a CUDA driver, or older than CUDA 11)";
    api = DriverApi{};
    return;
  }
  CUresult r = api.cuInit(0);
  if (r != kCUDA_SUCCESS) {
    support.reason = "cuInit failed: " + ErrorName(r);
    return;
  }
  api.cuDriverGetVersion(&support.driverVersion);
  int count = 0;
  r = api.cuDeviceGetCount(&count);
  if (r != kCUDA_SUCCESS || count <= 0) {
    support.reason =
        r != kCUDA_SUCCESS ? "cuDeviceGetCount failed: " + ErrorName(r) : "no CUDA device";
    return;
  }
  for (int i = 0; i < count; i++) {
    char name[256] = {0};
    CUdevice dev = 0;
    if (api.cuDeviceGet(&dev, i) == kCUDA_SUCCESS) api.cuDeviceGetName(name, sizeof name - 1, dev);
    support.devices.push_back({i, name});
  }
  contexts.assign(count, nullptr);
  support.ok = true;
}

}  // namespace

const Support& Probe() {
  std::call_once(probed, DoProbe);
  return support;
}

const DriverApi& Api() {
  const Support& s = Probe();
  if (!s.ok) throw NativeError{kErrNotSupported, "VRAM is not supported here: " + s.reason};
  return api;
}

void Check(CUresult r, const char* what, int status) {
  if (r != kCUDA_SUCCESS) throw NativeError{status, std::string(what) + ": " + ErrorName(r)};
}

void UseDevice(int ordinal) {
  const DriverApi& a = Api();
  if (ordinal < 0 || ordinal >= static_cast<int>(support.devices.size())) {
    throw NativeError{kErrInvalidParam, "no CUDA device " + std::to_string(ordinal) +
                                            " (this machine has " +
                                            std::to_string(support.devices.size()) + ")"};
  }
  CUcontext ctx;
  {
    std::lock_guard<std::mutex> lock(ctxMu);
    if (!contexts[ordinal]) {
      CUdevice dev = 0;
      Check(a.cuDeviceGet(&dev, ordinal), "cuDeviceGet");
      Check(a.cuDevicePrimaryCtxRetain(&contexts[ordinal], dev), "cuDevicePrimaryCtxRetain");
    }
    ctx = contexts[ordinal];
  }
  Check(a.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
}

}  // namespace nixl::cuda
