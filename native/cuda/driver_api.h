// The part of the CUDA driver API's ABI that nixl-ts uses, declared here so
// that building needs no CUDA toolkit: the library is opened at run time
// (driver.cc). abi_check.cc compares every value below with cuda.h where the
// toolkit is installed (test/vram/abi-check.test.ts).
#pragma once
#include <cstddef>
#include <cstdint>

// The driver's opaque handle structs, at global scope as cuda.h declares them.
struct CUctx_st;
struct CUstream_st;
struct CUevent_st;

namespace nixl::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;  // 64-bit on every platform we build for
using CUcontext = ::CUctx_st*;
using CUstream = ::CUstream_st*;
using CUevent = ::CUevent_st*;

constexpr CUresult kCUDA_SUCCESS = 0;
constexpr CUresult kCUDA_ERROR_NOT_READY = 600;

// CUpointer_attribute
constexpr int kCU_POINTER_ATTRIBUTE_CONTEXT = 1;
constexpr int kCU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
constexpr int kCU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9;
constexpr int kCU_POINTER_ATTRIBUTE_RANGE_START_ADDR = 11;
constexpr int kCU_POINTER_ATTRIBUTE_RANGE_SIZE = 12;

// CUmemorytype
constexpr unsigned kCU_MEMORYTYPE_HOST = 1;
constexpr unsigned kCU_MEMORYTYPE_DEVICE = 2;

constexpr unsigned kCU_MEMHOSTALLOC_PORTABLE = 0x01;
constexpr unsigned kCU_STREAM_NON_BLOCKING = 0x1;
constexpr unsigned kCU_EVENT_DISABLE_TIMING = 0x2;
constexpr unsigned kCU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS = 0x1;

constexpr size_t kCU_IPC_HANDLE_SIZE = 64;
struct CUipcMemHandle {
  char reserved[kCU_IPC_HANDLE_SIZE];
};

// Every entry point, by the versioned symbol the library exports (cuda.h
// maps the plain names to these with #defines).
struct DriverApi {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int* version);
  CUresult (*cuGetErrorString)(CUresult error, const char** str);
  CUresult (*cuDeviceGetCount)(int* count);
  CUresult (*cuDeviceGet)(CUdevice* device, int ordinal);
  CUresult (*cuDeviceGetName)(char* name, int len, CUdevice dev);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext* ctx, CUdevice dev);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice dev);  // _v2
  CUresult (*cuCtxSetCurrent)(CUcontext ctx);
  CUresult (*cuPointerGetAttributes)(unsigned n, int* attributes, void** data, CUdeviceptr ptr);
  CUresult (*cuMemAlloc)(CUdeviceptr* dptr, size_t bytes);  // _v2
  CUresult (*cuMemFree)(CUdeviceptr dptr);                  // _v2
  CUresult (*cuMemHostAlloc)(void** pp, size_t bytes, unsigned flags);
  CUresult (*cuMemFreeHost)(void* p);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void* src, size_t bytes,
                                CUstream s);                                            // _v2
  CUresult (*cuMemcpyDtoHAsync)(void* dst, CUdeviceptr src, size_t bytes, CUstream s);  // _v2
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                                CUstream s);                               // _v2
  CUresult (*cuMemsetD8)(CUdeviceptr dst, unsigned char value, size_t n);  // _v2
  CUresult (*cuStreamCreate)(CUstream* s, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream s);  // _v2
  CUresult (*cuStreamSynchronize)(CUstream s);
  CUresult (*cuEventCreate)(CUevent* e, unsigned flags);
  CUresult (*cuEventRecord)(CUevent e, CUstream s);
  CUresult (*cuEventQuery)(CUevent e);
  CUresult (*cuEventSynchronize)(CUevent e);
  CUresult (*cuEventDestroy)(CUevent e);  // _v2
  CUresult (*cuIpcGetMemHandle)(CUipcMemHandle* handle, CUdeviceptr dptr);
  CUresult (*cuIpcOpenMemHandle)(CUdeviceptr* dptr, CUipcMemHandle handle,
                                 unsigned flags);  // _v2
  CUresult (*cuIpcCloseMemHandle)(CUdeviceptr dptr);
};

}  // namespace nixl::cuda
