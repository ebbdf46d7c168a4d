// The CUDA driver, opened at run time with dlopen (no link-time dependency):
// whether it is usable, and why not; per-device primary contexts; checked
// calls that throw NativeError with the driver's own error name.
#pragma once
#include <string>
#include <vector>

#include "common/native_error.h"
#include "cuda/driver_api.h"

namespace nixl::cuda {

struct DeviceInfo {
  int ordinal;
  std::string name;
};

struct Support {
  bool ok;
  std::string reason;   // why VRAM is unsupported (empty when ok)
  std::string library;  // the library opened (or tried)
  int driverVersion;    // e.g. 13000
  std::vector<DeviceInfo> devices;
};

// Opens the driver once per process (thread-safe); later calls return the
// same answer. NIXL_CUDA_LIBRARY overrides the library name ("libcuda.so.1").
const Support& Probe();

// The loaded entry points; throws NativeError (ERR_NOT_SUPPORTED, with the
// reason) when the driver is not usable.
const DriverApi& Api();

// Makes device `ordinal`'s primary context current on the calling thread
// (retained once per process, released at exit by the driver).
void UseDevice(int ordinal);

// Throws NativeError{status, "<what>: <CUDA error name>"} unless r is success.
void Check(CUresult r, const char* what, int status = kErrBackend);

}  // namespace nixl::cuda
