// Whether the caller that polls its transfers shares its CPU with the threads
// that answer them (poll_progress=auto). Sharing one CPU (pinned, or the other
// CPU busy), the engine's I/O thread that reads an answer is a third thread
// on that CPU: about 7 µs per 4 KiB transfer here, which the caller saves by
// reading its answer itself. With a CPU each, the caller's reads cost it about
// 3 µs (bench/cli/results/2026-12-one-cpu-wake/).
//
// The signal is how long the caller's sched_yield took while its transfer was
// in flight: long means another thread was queued on its CPU and ran
// (busy-poll-5 found an answer right after such a yield in 16 648 of 16 650
// pinned arrivals, 1-2 % unpinned). kStreak long yields in a row switch the
// regime on, kStreak short ones in a row switch it off again: hysteresis, so
// an odd preemption does not flip it. Used by the polling JavaScript thread
// only; atomics so that the counters may be read at any time.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace nixl::tcp {

// What the detector saw, for tests and the benchmark.
struct RegimeCounters {
  bool sharedCpu = false;    // the regime now: the caller reads its answers
  uint64_t switchesOn = 0;   // times it switched to reading its answers
  uint64_t switchesOff = 0;  // times it switched back to the I/O thread
  uint64_t longYields = 0;
  uint64_t shortYields = 0;
};

class SharedCpuRegime {
 public:
  // A yield of a CPU that nobody else wanted returns in well under 1 µs here;
  // one that let another thread run takes a context switch each way and that
  // thread's work (several µs). busy-poll-5 used the same bound.
  static constexpr uint64_t kLongYieldNs = 1'500;
  static constexpr uint32_t kStreak = 16;

  // sched_yield of a caller whose transfer is in flight, timed and counted.
  void Yield();
  bool Shared() const { return shared_.load(std::memory_order_relaxed); }
  RegimeCounters Counters() const;

 private:
  void Note(uint64_t yieldNs);
  std::atomic<bool> shared_{false};
  uint32_t streak_ = 0;  // yields in a row that disagree with the regime now
  std::atomic<uint64_t> switchesOn_{0};
  std::atomic<uint64_t> switchesOff_{0};
  std::atomic<uint64_t> longYields_{0};
  std::atomic<uint64_t> shortYields_{0};
};

}  // namespace nixl::tcp
