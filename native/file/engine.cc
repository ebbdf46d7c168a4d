#include "file/engine.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "common/native_error.h"
#include "common/status.h"

namespace nixl::file {

// A transfer as the engine keeps it; every field is guarded by Engine::mu_.
struct Xfer {
  struct Desc {
    std::shared_ptr<OpenFile> file;
    uint64_t offset;
    uint8_t* mem;
    uint64_t len;
  };
  uint32_t slot = 0;
  int32_t* status = nullptr;
  XferOp op = XferOp::kWrite;
  std::vector<Desc> descs;
  uint32_t gen = 0;      // the current post
  uint32_t pending = 0;  // its chunks not finished yet
  int32_t err = 0;       // its first failure
  std::string message;
  bool released = false;
};

OpenFile::~OpenFile() { ::close(fd); }

namespace {

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(strerror(err)) + " (" + (name ? name : std::to_string(err)) + ")";
}

}  // namespace

Engine::Engine(const EngineConfig& cfg, StatusSlots* slots, std::function<void()> wake)
    : cfg_(cfg), slots_(slots), queue_(std::move(wake)) {}

Engine::~Engine() {
  Stop();
  StopUring();
}

void Engine::Start() {
  if (cfg_.api != EngineConfig::Api::kPool) StartUring();
  if (!uring_ && cfg_.api == EngineConfig::Api::kUring) {
    throw NativeError{kErrNotSupported, "io_uring is unavailable here: " + uringError_};
  }
  if (uring_) {
    threads_.emplace_back([this] { RunUring(); });
  } else {
    for (uint32_t i = 0; i < cfg_.poolThreads; i++) threads_.emplace_back([this] { RunPool(); });
  }
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = stopping_ = true;
    // Chunks not started are dropped: their transfers read as canceled once
    // the backend closed (SettleDispatch.close).
    pending_.clear();
  }
  cv_.notify_all();
  Wake();
  for (auto& t : threads_) t.join();  // each finishes the I/O it has in the kernel first
  threads_.clear();
}

void Engine::Wake() {
  if (wakeFd_ >= 0) {
    uint64_t one = 1;
    ssize_t n = ::write(wakeFd_, &one, sizeof one);
    (void)n;  // a full counter already wakes the thread
  }
}

FileInfo Engine::RegisterFile(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    throw NativeError{kErrInvalidParam, "devId " + std::to_string(fd) +
                                            " is not an open file descriptor: " + ErrnoText(errno)};
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    throw NativeError{kErrInvalidParam,
                      "fstat of descriptor " + std::to_string(fd) + " failed: " + ErrnoText(errno)};
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    throw NativeError{kErrInvalidParam, "descriptor " + std::to_string(fd) +
                                            " is not a regular file or block device"};
  }
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) {
    throw NativeError{
        kErrBackend, "cannot duplicate descriptor " + std::to_string(fd) + ": " + ErrnoText(errno)};
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t id = nextFileId_++;
  files_[id] = std::make_shared<OpenFile>(own, id, (flags & O_DIRECT) != 0);
  int acc = flags & O_ACCMODE;
  return FileInfo{id, (flags & O_DIRECT) != 0, acc == O_RDONLY || acc == O_RDWR,
                  acc == O_WRONLY || acc == O_RDWR};
}

bool Engine::DeregisterFile(uint32_t id) {
  std::shared_ptr<OpenFile> f;  // closed outside the lock, unless a transfer still holds it
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(id);
  if (it == files_.end()) return false;
  f = std::move(it->second);
  files_.erase(it);
  return true;
}

void Engine::Prep(uint32_t slot, int32_t* status, XferOp op, const std::vector<XferDesc>& descs) {
  auto x = std::make_shared<Xfer>();
  x->slot = slot;
  x->status = status;
  x->op = op;
  x->descs.reserve(descs.size());
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < descs.size(); i++) {
    auto it = files_.find(descs[i].fileId);
    if (it == files_.end()) {
      throw NativeError{kErrNotFound,
                        "descriptor " + std::to_string(i) + " names a file that is not registered"};
    }
    x->descs.push_back(Xfer::Desc{it->second, descs[i].offset,
                                  reinterpret_cast<uint8_t*>(descs[i].addr), descs[i].len});
  }
  xfers_[slot] = std::move(x);
}

void Engine::Post(uint32_t slot, uint32_t gen) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) throw NativeError{kErrNotAllowed, "the FILE engine is closed"};
  auto it = xfers_.find(slot);
  if (it == xfers_.end()) throw NativeError{kErrInvalidParam, "no transfer in this slot"};
  const std::shared_ptr<Xfer>& x = it->second;
  if (x->pending > 0) throw NativeError{kErrRepostActive, "the transfer is still in flight"};
  x->gen = gen;
  x->err = 0;
  x->message.clear();
  std::vector<uint64_t> progress(x->descs.size(), 0);
  if (TryInline(*x, progress)) return;
  std::vector<Chunk> chunks;
  uint64_t total = 0;
  for (size_t i = 0; i < x->descs.size(); i++) {
    const auto& d = x->descs[i];
    total += d.len;
    for (uint64_t off = progress[i]; off < d.len; off += cfg_.chunkBytes) {
      uint64_t n = std::min<uint64_t>(cfg_.chunkBytes, d.len - off);
      chunks.push_back(Chunk{x, d.file, d.mem + off, d.offset + off, n, x->op == XferOp::kRead});
    }
  }
  if (chunks.empty()) {
    StatusSlots::Store(x->status, kSuccess);  // nothing to move: settled inside the call
    return;
  }
  x->pending = uint32_t(chunks.size());
  if (uring_ && total <= cfg_.inlineBytes) {
    lock.unlock();  // ringMu_ comes before mu_
    SubmitHere(chunks);
    return;
  }
  for (auto& c : chunks) pending_.push_back(std::move(c));
  lock.unlock();
  if (uring_) {
    Wake();
  } else {
    cv_.notify_all();
  }
}

bool Engine::TryInline(Xfer& x, std::vector<uint64_t>& progress) {
  uint64_t total = 0;
  for (const auto& d : x.descs) {
    total += d.len;
    if (d.file->direct) return false;
  }
  if (total == 0 || total > cfg_.inlineBytes) return false;
  const bool reading = x.op == XferOp::kRead;
  for (size_t i = 0; i < x.descs.size(); i++) {
    const auto& d = x.descs[i];
    while (progress[i] < d.len) {
      iovec iov{d.mem + progress[i], size_t(d.len - progress[i])};
      off_t at = off_t(d.offset + progress[i]);
      ssize_t n = reading ? preadv2(d.file->fd, &iov, 1, at, RWF_NOWAIT)
                          : pwritev2(d.file->fd, &iov, 1, at, RWF_NOWAIT);
      if (n > 0) {
        progress[i] += uint64_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP)) return false;  // would block
      // A failure, or a read at end of file: the post fails as a runner's would.
      x.err = kErrBackend;
      if (n == 0 && reading) {
        x.message = "short read: file #" + std::to_string(d.file->id) + " ends at byte " +
                    std::to_string(uint64_t(at)) + ", before the " +
                    std::to_string(d.len - progress[i]) + " bytes asked for there";
      } else {
        int err = n < 0 ? errno : EIO;
        x.message = std::string(reading ? "read from" : "write to") + " file #" +
                    std::to_string(d.file->id) + " at offset " + std::to_string(uint64_t(at)) +
                    " failed: " + ErrnoText(err);
      }
      SettleLocked(x);
      return true;
    }
  }
  // Every byte moved: settled inside the call (no batch entry, as for TCP's inline posts).
  StatusSlots::Store(x.status, kSuccess);
  return true;
}

void Engine::SettleLocked(Xfer& x) {
  int32_t st = x.err != 0 ? x.err : kSuccess;
  // The slot is stored under the queue's lock, so takeBatch() hands over the
  // message of a failure that JavaScript read in the slot before its batch came.
  queue_.Add([&](CompletionBatch& b) {
    StatusSlots::Store(x.status, st);
    b.settled.push_back(CompletionBatch::Settled{x.slot, x.gen, st, x.message});
  });
}

bool Engine::Release(uint32_t slot) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = xfers_.find(slot);
  if (it == xfers_.end()) return false;
  std::shared_ptr<Xfer> x = std::move(it->second);
  xfers_.erase(it);
  x->released = true;
  if (x->pending > 0) {
    // Chunks not started yet never will.
    for (auto c = pending_.begin(); c != pending_.end();) {
      if (c->xfer == x) {
        c = pending_.erase(c);
        x->pending--;
      } else {
        ++c;
      }
    }
  }
  if (x->pending > 0) return true;  // I/O in the kernel: Finish frees the slot
  StatusSlots::Store(x->status, kSlotFree);
  return false;
}

bool Engine::NextChunk(Chunk* out, bool wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (wait) cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
  if (stopping_ || pending_.empty()) return false;
  *out = std::move(pending_.front());
  pending_.pop_front();
  return true;
}

void Engine::Finish(Chunk& c, int err, bool eof) {
  std::lock_guard<std::mutex> lock(mu_);
  Xfer& x = *c.xfer;
  if ((err != 0 || eof) && x.err == 0) {
    x.err = kErrBackend;
    uint64_t at = c.offset + c.done;
    if (eof) {
      x.message = "short read: file #" + std::to_string(c.file->id) + " ends at byte " +
                  std::to_string(at) + ", before the " + std::to_string(c.len - c.done) +
                  " bytes asked for there";
    } else {
      x.message = std::string(x.op == XferOp::kWrite ? "write to" : "read from") + " file #" +
                  std::to_string(c.file->id) + " at offset " + std::to_string(at) +
                  " failed: " + ErrnoText(err);
    }
  }
  if (--x.pending > 0) return;
  if (x.released) {
    StatusSlots::Store(x.status, kSlotFree);
    queue_.Add([](CompletionBatch&) {});  // wakes JavaScript, which lets the memory go
    return;
  }
  SettleLocked(x);
}

}  // namespace nixl::file
