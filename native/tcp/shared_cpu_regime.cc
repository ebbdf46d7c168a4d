// The poll_progress=auto detector: see shared_cpu_regime.h.
#include "tcp/shared_cpu_regime.h"

#include <sched.h>

#include "tcp/engine.h"  // NowNs

namespace nixl::tcp {

void SharedCpuRegime::Yield() {
  const uint64_t start = NowNs();
  sched_yield();
  const bool isLong = NowNs() - start >= kLongYieldNs;
  (isLong ? longYields_ : shortYields_).fetch_add(1, std::memory_order_relaxed);
  Sample(byYields_, yieldStreak_, isLong, kStreak);
}

bool SharedCpuRegime::LeaveToCaller() {
  if (!Shared()) return false;
  if (++sinceProbe_ < kProbeEvery) return true;
  sinceProbe_ = 0;
  probes_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void SharedCpuRegime::Settled(int postCpu, int settleCpu) {
  const bool same = postCpu == settleCpu;
  (same ? sameCpu_ : otherCpu_).fetch_add(1, std::memory_order_relaxed);
  Sample(byCpus_, cpuStreak_, same, kOffProbes);
}

void SharedCpuRegime::Sample(std::atomic<bool>& on, uint32_t& streak, bool shared,
                             uint32_t offStreak) {
  const bool now = on.load(std::memory_order_relaxed);
  if (shared == now) {
    streak = 0;
    return;
  }
  if (++streak < (now ? offStreak : kStreak)) return;
  streak = 0;
  on.store(shared, std::memory_order_relaxed);
  (shared ? switchesOn_ : switchesOff_).fetch_add(1, std::memory_order_relaxed);
}

RegimeCounters SharedCpuRegime::Counters() const {
  RegimeCounters c;
  c.byYields = byYields_.load(std::memory_order_relaxed);
  c.byCpus = byCpus_.load(std::memory_order_relaxed);
  c.sharedCpu = c.byYields || c.byCpus;
  c.switchesOn = switchesOn_.load(std::memory_order_relaxed);
  c.switchesOff = switchesOff_.load(std::memory_order_relaxed);
  c.longYields = longYields_.load(std::memory_order_relaxed);
  c.shortYields = shortYields_.load(std::memory_order_relaxed);
  c.sameCpuSettles = sameCpu_.load(std::memory_order_relaxed);
  c.otherCpuSettles = otherCpu_.load(std::memory_order_relaxed);
  c.probes = probes_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace nixl::tcp
