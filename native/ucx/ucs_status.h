// Mapping from UCX status codes (ucs_status_t) to NIXL statuses
// (common/status.h), so that a UCX failure reaches JavaScript as the matching
// typed error.
#pragma once
#include <ucs/type/status.h>

#include <string>

#include "common/status.h"

namespace nixl::ucx {

inline int ToNixlStatus(ucs_status_t s) {
  switch (s) {
    case UCS_OK:
      return kSuccess;
    case UCS_INPROGRESS:
      return kInProg;
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_REJECTED:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_TIMED_OUT:
    case UCS_ERR_IO_ERROR:
      return kErrRemoteDisconnect;
    case UCS_ERR_CANCELED:
      return kErrCanceled;
    case UCS_ERR_INVALID_PARAM:
    case UCS_ERR_INVALID_ADDR:
      return kErrInvalidParam;
    case UCS_ERR_NO_ELEM:
    case UCS_ERR_NO_DEVICE:
      return kErrNotFound;
    case UCS_ERR_UNSUPPORTED:
      return kErrNotSupported;
    default:
      return kErrBackend;
  }
}

// "what: UCX says <status string> (<code>)"
inline std::string UcxMessage(const std::string& what, ucs_status_t s) {
  return what + ": UCX says '" + ucs_status_string(s) + "' (" +
         std::to_string(static_cast<int>(s)) + ")";
}

}  // namespace nixl::ucx
