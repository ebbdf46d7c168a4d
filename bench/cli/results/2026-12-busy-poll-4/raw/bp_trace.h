// Scratch probe (not for merge): timestamps of a busy-polled transfer's steps,
// written to an mmap'd file named by $BP_TRACE_OUT (one per process). Each
// record: CLOCK_MONOTONIC ns, then the mark's number | (CPU << 8).
#pragma once
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace bptrace {
struct Rec {
  uint64_t ns;
  uint64_t kind;
};
constexpr size_t kMax = 4 << 20;
inline Rec* Buf() {
  static Rec* buf = [] {
    const char* p = getenv("BP_TRACE_OUT");
    if (!p) return static_cast<Rec*>(nullptr);
    char name[512];
    snprintf(name, sizeof name, "%s.%d", p, getpid());
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return static_cast<Rec*>(nullptr);
    if (ftruncate(fd, kMax * sizeof(Rec)) != 0) return static_cast<Rec*>(nullptr);
    void* m = mmap(nullptr, kMax * sizeof(Rec), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? static_cast<Rec*>(nullptr) : static_cast<Rec*>(m);
  }();
  return buf;
}
inline std::atomic<size_t>& Pos() {
  static std::atomic<size_t> pos{0};
  return pos;
}
inline void Mark(uint64_t kind) {
  Rec* b = Buf();
  if (!b) return;
  size_t i = Pos().fetch_add(1, std::memory_order_relaxed);
  if (i >= kMax) return;
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  b[i].ns = static_cast<uint64_t>(t.tv_sec) * 1000000000ull + t.tv_nsec;
  b[i].kind = kind | (static_cast<uint64_t>(sched_getcpu()) << 8);
}
}  // namespace bptrace
