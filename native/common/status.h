// NIXL's status values (nixl_status_t, src/status.ts) as the engines use them:
// in status slots, in completion batches, on the TCP wire and in errors.
#pragma once
#include <cstdint>

namespace nixl {

inline constexpr int32_t kInProg = 1;
inline constexpr int32_t kSuccess = 0;
inline constexpr int32_t kErrNotPosted = -1;
inline constexpr int32_t kErrInvalidParam = -2;
inline constexpr int32_t kErrBackend = -3;
inline constexpr int32_t kErrNotFound = -4;
inline constexpr int32_t kErrMismatch = -5;
inline constexpr int32_t kErrNotAllowed = -6;
inline constexpr int32_t kErrRepostActive = -7;
inline constexpr int32_t kErrNotSupported = -9;
inline constexpr int32_t kErrRemoteDisconnect = -10;
inline constexpr int32_t kErrCanceled = -11;

}  // namespace nixl
