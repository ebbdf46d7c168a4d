// The io_uring runner: one thread owns the ring and keeps up to queueDepth
// chunks in flight. New work wakes it through an eventfd that the ring itself
// polls, so one io_uring_wait_cqe waits for both completions and work.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "file/engine.h"

#ifdef NIXL_HAVE_URING
#include <liburing.h>
#endif

namespace nixl::file {

#ifdef NIXL_HAVE_URING

namespace {

constexpr uint64_t kWakeTag = 0;  // user_data of the eventfd poll; chunks are pointers

void PrepChunk(io_uring* ring, Chunk* c) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);  // the ring has a free entry: see StartUring
  if (c->read) {
    io_uring_prep_read(sqe, c->file->fd, c->mem + c->done, unsigned(c->len - c->done),
                       c->offset + c->done);
  } else {
    io_uring_prep_write(sqe, c->file->fd, c->mem + c->done, unsigned(c->len - c->done),
                        c->offset + c->done);
  }
  io_uring_sqe_set_data(sqe, c);
}

void ArmWake(io_uring* ring, int fd) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_poll_add(sqe, fd, POLLIN);
  sqe->user_data = kWakeTag;
}

}  // namespace

void Engine::StartUring() {
  auto* ring = new io_uring;
  // One entry more than the chunks in flight, for the eventfd poll.
  int rc = io_uring_queue_init(cfg_.queueDepth + 1, ring, 0);
  if (rc < 0) {
    uringError_ = std::string("io_uring_queue_init: ") + strerror(-rc);
    delete ring;
    return;
  }
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) {
    uringError_ = std::string("eventfd: ") + strerror(errno);
    io_uring_queue_exit(ring);
    delete ring;
    return;
  }
  ring_ = ring;
  uring_ = true;
}

void Engine::StopUring() {
  if (ring_ != nullptr) {
    auto* ring = static_cast<io_uring*>(ring_);
    io_uring_queue_exit(ring);
    delete ring;
    ring_ = nullptr;
  }
  if (wakeFd_ >= 0) ::close(wakeFd_);
  wakeFd_ = -1;
}

void Engine::FillRingLocked() {
  auto* ring = static_cast<io_uring*>(ring_);
  Chunk next;
  while (inflight_ < cfg_.queueDepth && NextChunk(&next, false)) {
    PrepChunk(ring, new Chunk(std::move(next)));
    inflight_++;
  }
}

void Engine::DrainRingLocked() {
  auto* ring = static_cast<io_uring*>(ring_);
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    seen++;
    if (cqe->user_data == kWakeTag) {
      uint64_t n;
      ssize_t r = ::read(wakeFd_, &n, sizeof n);
      (void)r;
      if (!stopping_) ArmWake(ring, wakeFd_);
      continue;
    }
    auto* c = static_cast<Chunk*>(io_uring_cqe_get_data(cqe));
    int res = cqe->res;
    if (res == -EINTR || res == -EAGAIN) {
      PrepChunk(ring, c);  // again, as it was
      continue;
    }
    if (res > 0) {
      c->done += static_cast<uint64_t>(res);
      if (c->done < c->len) {
        PrepChunk(ring, c);  // a partial result: the rest goes again
        continue;
      }
    }
    // Done, failed, or a read at end of file (a write of 0 bytes is an error too).
    int err = res < 0 ? -res : (res == 0 && !c->read ? EIO : 0);
    Finish(*c, err, res == 0 && c->read);
    delete c;
    inflight_--;
  }
  io_uring_cq_advance(ring, seen);
}

void Engine::SubmitHere(std::vector<Chunk>& chunks) {
  auto* ring = static_cast<io_uring*>(ring_);
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(ringMu_);
    if (inflight_ + chunks.size() <= cfg_.queueDepth) {
      for (auto& c : chunks) PrepChunk(ring, new Chunk(std::move(c)));
      inflight_ += uint32_t(chunks.size());
      io_uring_submit(ring);
      DrainRingLocked();
      io_uring_submit(ring);  // what the drain sent again, if anything
    } else {
      std::lock_guard<std::mutex> q(mu_);
      for (auto& c : chunks) pending_.push_back(std::move(c));
    }
    std::lock_guard<std::mutex> q(mu_);
    queued = !pending_.empty();
  }
  // Work is waiting and this thread may have reaped the completion that
  // would have woken the uring thread for it.
  if (queued) Wake();
}

void Engine::RunUring() {
  auto* ring = static_cast<io_uring*>(ring_);
  {
    std::lock_guard<std::mutex> lock(ringMu_);
    ArmWake(ring, wakeFd_);
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(ringMu_);
      FillRingLocked();
      io_uring_submit(ring);
      if (stopping_ && inflight_ == 0) break;  // the I/O in the kernel is done
    }
    // Waits without the lock (it only looks at the completion queue), so
    // Post may submit and reap meanwhile.
    io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(ring, &cqe) < 0) continue;  // -EINTR: wait again
    std::lock_guard<std::mutex> lock(ringMu_);
    DrainRingLocked();
  }
}

#else  // built without liburing: the pool runs everything

void Engine::StartUring() { uringError_ = "nixl_file was built without liburing"; }
void Engine::StopUring() {}
void Engine::RunUring() {}
void Engine::FillRingLocked() {}
void Engine::DrainRingLocked() {}
void Engine::SubmitHere(std::vector<Chunk>&) {}  // never called: uring_ stays false

#endif

}  // namespace nixl::file
