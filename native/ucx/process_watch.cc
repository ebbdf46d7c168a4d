// ErrorMode::kProcess: a same-host peer's process is watched through a pidfd
// on the libuv loop. It becomes readable when the process exits, at once,
// which is how a peer whose endpoints have no UCX error handling (so that
// shared memory can carry RMA on UCX 1.13) still fails in bounded time.
#include <poll.h>
#include <unistd.h>
#include <uv.h>

#include "ucx/engine.h"

namespace nixl::ucx {
namespace {

struct ProcessWatch {
  uv_poll_t poll;
  UcxEngine* engine;
  uint32_t peerId;
};

}  // namespace

bool ProcessExited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

Peer::~Peer() {
  if (pidfd >= 0) close(pidfd);
}

void UcxEngine::WatchProcess(Peer& peer) {
  if (peer.pidfd < 0 || peer.watch != nullptr || uvLoop_ == nullptr) return;
  auto* w = new ProcessWatch{{}, this, peer.id};
  if (uv_poll_init(static_cast<uv_loop_t*>(uvLoop_), &w->poll, peer.pidfd) != 0) {
    delete w;
    return;
  }
  w->poll.data = w;
  uv_poll_start(&w->poll, UV_READABLE, [](uv_poll_t* h, int, int) {
    auto* pw = static_cast<ProcessWatch*>(h->data);
    pw->engine->OnPeerExited(pw->peerId);
  });
  // A watch alone must not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  peer.watch = w;
}

void UcxEngine::UnwatchProcess(Peer& peer) {
  auto* w = static_cast<ProcessWatch*>(peer.watch);
  if (w == nullptr) return;
  peer.watch = nullptr;
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll),
           [](uv_handle_t* h) { delete static_cast<ProcessWatch*>(h->data); });
}

}  // namespace nixl::ucx
