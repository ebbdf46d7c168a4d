// Compile-only check (never linked into an addon): every ABI fact that
// driver_api.h declares by hand equals cuda.h's, and each function pointer
// has the type of the versioned entry point it is loaded from. Run by
// test/vram/abi-check.test.ts where the CUDA toolkit is installed:
//   g++ -std=c++20 -fsyntax-only -I native -I /usr/local/cuda/include native/cuda/abi_check.cc
#include <cuda.h>

#include <tuple>
#include <type_traits>

#include "cuda/driver_api.h"

namespace n = nixl::cuda;

static_assert(sizeof(CUdeviceptr) == sizeof(n::CUdeviceptr));
static_assert(n::kCUDA_SUCCESS == CUDA_SUCCESS);
static_assert(n::kCUDA_ERROR_NOT_READY == CUDA_ERROR_NOT_READY);
static_assert(n::kCU_POINTER_ATTRIBUTE_CONTEXT == CU_POINTER_ATTRIBUTE_CONTEXT);
static_assert(n::kCU_POINTER_ATTRIBUTE_MEMORY_TYPE == CU_POINTER_ATTRIBUTE_MEMORY_TYPE);
static_assert(n::kCU_POINTER_ATTRIBUTE_DEVICE_ORDINAL == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL);
static_assert(n::kCU_POINTER_ATTRIBUTE_RANGE_START_ADDR == CU_POINTER_ATTRIBUTE_RANGE_START_ADDR);
static_assert(n::kCU_POINTER_ATTRIBUTE_RANGE_SIZE == CU_POINTER_ATTRIBUTE_RANGE_SIZE);
static_assert(n::kCU_MEMORYTYPE_HOST == CU_MEMORYTYPE_HOST);
static_assert(n::kCU_MEMORYTYPE_DEVICE == CU_MEMORYTYPE_DEVICE);
static_assert(n::kCU_MEMHOSTALLOC_PORTABLE == CU_MEMHOSTALLOC_PORTABLE);
static_assert(n::kCU_STREAM_NON_BLOCKING == CU_STREAM_NON_BLOCKING);
static_assert(n::kCU_EVENT_DISABLE_TIMING == CU_EVENT_DISABLE_TIMING);
static_assert(n::kCU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS == CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
static_assert(n::kCU_IPC_HANDLE_SIZE == CU_IPC_HANDLE_SIZE);
static_assert(sizeof(n::CUipcMemHandle) == sizeof(CUipcMemHandle));

// The attribute values cuPointerGetAttributes writes: the sizes we read them as.
static_assert(sizeof(unsigned) == sizeof(CUmemorytype));
static_assert(sizeof(int) == sizeof(CUdevice));

// Each pointer takes the parameters of the versioned entry point it is loaded
// from (cuda.h returns the enum CUresult, we an int of the same size).
template <typename F>
struct Args;
template <typename R, typename... A>
struct Args<R (*)(A...)> {
  using type = std::tuple<A...>;
};
template <typename Ours, typename Theirs>
constexpr bool kSameParams = std::is_same_v<typename Args<Ours>::type, typename Args<Theirs>::type>;
#define SAME(field, symbol) \
  static_assert(kSameParams<decltype(n::DriverApi::field), decltype(&symbol)>, #symbol)
static_assert(sizeof(CUresult) == sizeof(n::CUresult));
static_assert(sizeof(CUpointer_attribute) == sizeof(int));
SAME(cuInit, cuInit);
SAME(cuDriverGetVersion, cuDriverGetVersion);
static_assert(std::is_same_v<decltype(&cuGetErrorString), CUresult (*)(CUresult, const char**)>);
SAME(cuDeviceGetCount, cuDeviceGetCount);
SAME(cuDeviceGet, cuDeviceGet);
SAME(cuDeviceGetName, cuDeviceGetName);
SAME(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain);
SAME(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2);
SAME(cuCtxSetCurrent, cuCtxSetCurrent);
SAME(cuMemAlloc, cuMemAlloc_v2);
SAME(cuMemFree, cuMemFree_v2);
SAME(cuMemHostAlloc, cuMemHostAlloc);
SAME(cuMemFreeHost, cuMemFreeHost);
SAME(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2);
SAME(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2);
SAME(cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2);
SAME(cuMemsetD8, cuMemsetD8_v2);
SAME(cuStreamCreate, cuStreamCreate);
SAME(cuStreamDestroy, cuStreamDestroy_v2);
SAME(cuStreamSynchronize, cuStreamSynchronize);
SAME(cuEventCreate, cuEventCreate);
SAME(cuEventRecord, cuEventRecord);
SAME(cuEventQuery, cuEventQuery);
SAME(cuEventSynchronize, cuEventSynchronize);
SAME(cuEventDestroy, cuEventDestroy_v2);
// The IPC handle is a struct of 64 bytes passed by pointer and by value: ours
// has cuda.h's size and alignment.
static_assert(alignof(n::CUipcMemHandle) == alignof(CUipcMemHandle));
static_assert(
    std::is_same_v<decltype(&cuIpcGetMemHandle), CUresult (*)(CUipcMemHandle*, CUdeviceptr)>);
static_assert(std::is_same_v<decltype(&cuIpcOpenMemHandle_v2),
                             CUresult (*)(CUdeviceptr*, CUipcMemHandle, unsigned int)>);
SAME(cuIpcCloseMemHandle, cuIpcCloseMemHandle);
// cuPointerGetAttributes takes CUpointer_attribute*, we int* (same size, checked above).
static_assert(
    std::is_same_v<decltype(&cuPointerGetAttributes),
                   CUresult (*)(unsigned int, CUpointer_attribute*, void**, CUdeviceptr)>);
