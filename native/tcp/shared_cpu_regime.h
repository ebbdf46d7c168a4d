// Whether a caller that polls its small socket transfers should read their
// answers itself (poll_progress=auto). When the engine's I/O thread that
// reads an answer has to share a CPU (both processes pinned to one CPU, the
// I/O thread on its caller's CPU, or the machine busy), its hop costs a
// wake-up and context switches: 3.74 switches per 4 KiB transfer instead of
// 2, about 7 µs pinned, which the caller saves by reading the answer itself.
// When the threads have a CPU each, the caller's reads cost it about 3 µs
// instead (bench/cli/results/2026-12-one-cpu-wake/).
//
// Two signals, each with its own hysteresis; the regime is on while either
// says so:
// - The caller's sched_yield while its transfer is in flight, timed: one of
//   kLongYieldNs or more let another thread run on its CPU (busy-poll-5 found
//   an answer right after such a yield in 16 648 of 16 650 pinned arrivals,
//   1-2 % unpinned). kStreak long yields in a row switch it on, kStreak short
//   ones in a row off. It sees one CPU shared by all, and a busy machine.
// - The CPU the I/O thread settles a post on against the CPU its caller
//   posted it from (sched_getcpu, a vDSO read). kStreak settles in a row on
//   the poster's CPU switch it on; then every kProbeEvery-th post is left to
//   the I/O thread as a probe, and kOffProbes probes in a row settled on
//   another CPU switch it off. It sees the I/O thread placed on its caller's
//   CPU while the target has another (the caller's yields are short there).
//   Only posts whose answer the regime decides are sampled (socket
//   transfers up to Engine::kRegimeMaxBytes, 16 KiB): a polled socket READ
//   up to 32 KiB, or a WRITE of one descriptor up to inline_write_max_bytes,
//   is read by its caller whatever the regime says (Engine::CallerPollsAnswer),
//   so the I/O thread does not settle those.
#pragma once

#include <atomic>
#include <cstdint>

namespace nixl::tcp {

// What the detector saw, for tests and the benchmark.
struct RegimeCounters {
  bool sharedCpu = false;  // the regime now: callers read their answers
  bool byYields = false;   // ... because of their yields
  bool byCpus = false;     // ... because of the I/O thread's CPU
  uint64_t switchesOn = 0;
  uint64_t switchesOff = 0;
  uint64_t longYields = 0;
  uint64_t shortYields = 0;
  uint64_t sameCpuSettles = 0;  // I/O thread settles on the poster's CPU
  uint64_t otherCpuSettles = 0;
  uint64_t probes = 0;  // posts left to the I/O thread while on
};

class SharedCpuRegime {
 public:
  static constexpr uint64_t kLongYieldNs = 1'500;
  static constexpr uint32_t kStreak = 16;
  static constexpr uint32_t kOffProbes = 3;
  static constexpr uint32_t kProbeEvery = 256;

  // The polling caller: sched_yield while its transfer is in flight, timed.
  void Yield();
  // The posting thread: whether this post's answer is left to its caller
  // (the regime is on and this post is not a probe).
  bool LeaveToCaller();
  // The I/O thread settled a post made from CPU `postCpu` on CPU `settleCpu`.
  void Settled(int postCpu, int settleCpu);
  bool Shared() const {
    return byYields_.load(std::memory_order_relaxed) || byCpus_.load(std::memory_order_relaxed);
  }
  RegimeCounters Counters() const;

 private:
  // One signal's sample: `streak` counts samples in a row against `on`.
  void Sample(std::atomic<bool>& on, uint32_t& streak, bool shared, uint32_t offStreak);

  std::atomic<bool> byYields_{false};
  std::atomic<bool> byCpus_{false};
  uint32_t yieldStreak_ = 0;  // the polling caller's
  uint32_t cpuStreak_ = 0;    // the I/O thread's
  uint32_t sinceProbe_ = 0;   // the posting thread's
  std::atomic<uint64_t> switchesOn_{0};
  std::atomic<uint64_t> switchesOff_{0};
  std::atomic<uint64_t> longYields_{0};
  std::atomic<uint64_t> shortYields_{0};
  std::atomic<uint64_t> sameCpu_{0};
  std::atomic<uint64_t> otherCpu_{0};
  std::atomic<uint64_t> probes_{0};
};

}  // namespace nixl::tcp
