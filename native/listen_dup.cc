// A second descriptor for a listening socket (dup), for the control plane's
// listener: each descriptor is its own libuv handle on the same accept queue,
// and libuv 1.46 (Node 20) accepts one connection per handle per event-loop
// iteration, so K descriptors accept up to K per iteration
// (plugins/libp2p-node/accept-per-turn.ts).
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addon.h"

namespace nixl {
namespace {

// dupListeningSocket(fd) -> a new descriptor (close-on-exec) for the same
// listening socket. Throws if fd is not a listening socket or dup fails.
Napi::Value DupListeningSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber())
    throw Napi::TypeError::New(env, "dupListeningSocket: fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int listening = 0;
  socklen_t len = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    throw Napi::Error::New(
        env, "dupListeningSocket: fd " + std::to_string(fd) + " is not a listening socket");
  }
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw Napi::Error::New(env, std::string("dupListeningSocket: ") + std::strerror(errno));
  }
  return Napi::Number::New(env, copy);
}

}  // namespace

void InitListenDup(Napi::Env env, Napi::Object exports) {
  exports.Set("dupListeningSocket",
              Napi::Function::New(env, DupListeningSocket, "dupListeningSocket"));
}

}  // namespace nixl
