// The FILE engine: one-sided READ (file -> memory) and WRITE (memory -> file)
// between registered DRAM and files, for the FILE backend (backends/file).
//
// A transfer is split into chunks of at most `chunkBytes`; chunks run on one
// of two runners, chosen when the engine starts:
//  - io_uring (uring_runner.cc): one thread owns a ring, keeps up to
//    `queueDepth` chunks in flight, and is woken for new work by an eventfd
//    polled through the ring itself;
//  - a thread pool (pool_runner.cc): `poolThreads` threads doing
//    pread/pwrite, for kernels or sandboxes where io_uring is unavailable.
// Both report through the same code: a chunk's result counts down its
// transfer, and the last one settles it into its status slot and the
// completion batch (native/common), as the TCP and UCX engines do.
//
// Nothing is reported DONE that did not reach the file: a short read (the
// file ends before the descriptor) and every errno fail the transfer with a
// message naming the errno, the file and the offset.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/completion_batch.h"
#include "common/status_slots.h"

namespace nixl::file {

struct EngineConfig {
  enum class Api { kAuto, kUring, kPool };
  Api api = Api::kAuto;
  uint32_t queueDepth = 64;
  uint32_t poolThreads = 4;
  uint64_t chunkBytes = 1 << 20;
  // Transfers of at most this many bytes are first tried inside Post, on the
  // caller's thread, with RWF_NOWAIT: page-cache hits complete there without
  // a thread hop; anything that would block (a miss, a lock) goes on to the
  // runner from where it stopped. 0: never.
  uint64_t inlineBytes = 64 << 10;
};

enum class XferOp { kWrite, kRead };  // WRITE: memory -> file; READ: file -> memory

// A file the engine holds open (its own duplicate of the caller's descriptor):
// closed when the registration and every transfer using it let go, so a
// descriptor number is never reused under a transfer in flight.
struct OpenFile {
  OpenFile(int fd, uint32_t id, bool direct) : fd(fd), id(id), direct(direct) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  const int fd;
  const uint32_t id;
  const bool direct;  // O_DIRECT: never moved inline (the device would be waited for)
};

struct XferDesc {
  uint32_t fileId;
  uint64_t offset;  // in the file
  uint64_t addr;    // in memory
  uint64_t len;
};

struct Xfer;

// A piece of one descriptor, at most chunkBytes, moved by one I/O at a time
// (a partial result moves `done` on and goes again).
struct Chunk {
  std::shared_ptr<Xfer> xfer;
  std::shared_ptr<OpenFile> file;
  uint8_t* mem;
  uint64_t offset;
  uint64_t len;
  bool read = false;  // file -> memory
  uint64_t done = 0;
};

// What registerFile learned about a descriptor.
struct FileInfo {
  uint32_t id;
  bool direct;    // opened with O_DIRECT
  bool readable;  // opened for reading
  bool writable;  // opened for writing
};

class Engine {
 public:
  // `wake` runs (any thread) when a completion batch has something new.
  Engine(const EngineConfig& cfg, StatusSlots* slots, std::function<void()> wake);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the runner; throws a NativeError if the configuration cannot run
  // (io_uring asked for and unavailable).
  void Start();
  // Stops taking work, waits for the I/O already in the kernel, joins. Idempotent.
  void Stop();

  bool usingUring() const { return uring_; }
  // Why io_uring could not be set up ("" if it was, or was not tried).
  const std::string& uringError() const { return uringError_; }

  // Duplicates `fd` (the caller keeps its own); throws a NativeError for a bad descriptor.
  FileInfo RegisterFile(int fd);
  bool DeregisterFile(uint32_t id);

  // JavaScript thread: a transfer in `slot`; throws a NativeError naming a
  // descriptor whose file is not registered.
  void Prep(uint32_t slot, int32_t* status, XferOp op, const std::vector<XferDesc>& descs);
  // JavaScript thread: starts post `gen`. A transfer of zero bytes settles
  // inside the call (its slot reads SUCCESS, no batch entry).
  void Post(uint32_t slot, uint32_t gen);
  // JavaScript thread: forgets the transfer. Its slot reads kSlotFree once no
  // I/O of it is left; returns true if some still is (the caller keeps the
  // memory alive until the slot reads free).
  bool Release(uint32_t slot);

  void TakeBatch(CompletionBatch* out) { queue_.Take(out); }

  // Runner side.
  // The next chunk to run, or false once stopping (blocks while `wait`).
  bool NextChunk(Chunk* out, bool wait);
  // A chunk finished: `err` is 0 or an errno; `eof` a read that returned 0.
  void Finish(Chunk& c, int err, bool eof);
  bool stopping() const { return stopping_; }
  uint32_t queueDepth() const { return cfg_.queueDepth; }

 private:
  void RunUring();
  // Under ringMu_: queued chunks into the ring while fewer than queueDepth are in flight.
  void FillRingLocked();
  // Under ringMu_: every completion the ring holds, settled or sent again.
  void DrainRingLocked();
  // Post, on the caller's thread, for a small transfer: its chunks straight
  // into the ring, then the completions reaped at once (a page-cache copy is
  // done by then, so the post settles without a thread hop; io_uring never
  // blocks the submitter, it hands what would block to its own workers).
  void SubmitHere(std::vector<Chunk>& chunks);
  void RunPool();
  void StartUring();
  void StopUring();  // frees the ring once its thread is joined

  EngineConfig cfg_;
  StatusSlots* slots_;
  CompletionQueue queue_;
  bool uring_ = false;
  std::string uringError_;
  void* ring_ = nullptr;  // struct io_uring*, only with liburing (uring_runner.cc)
  int wakeFd_ = -1;       // eventfd the uring thread polls
  // The ring's queues and the count of chunks in it: taken by the uring
  // thread except while it waits, and by Post for small transfers. Order: ringMu_, then mu_.
  std::mutex ringMu_;
  uint32_t inflight_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> pending_;  // chunks not started yet
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::unordered_map<uint32_t, std::shared_ptr<Xfer>> xfers_;  // by slot
  std::unordered_map<uint32_t, std::shared_ptr<OpenFile>> files_;
  uint32_t nextFileId_ = 1;
  std::vector<std::thread> threads_;

  void Wake();
  // Post's inline attempt, under mu_: true if it settled the post (done, or
  // failed with its batch entry queued); otherwise `progress` says how far
  // each descriptor got.
  bool TryInline(Xfer& x, std::vector<uint64_t>& progress);
  void SettleLocked(Xfer& x);
};

}  // namespace nixl::file
