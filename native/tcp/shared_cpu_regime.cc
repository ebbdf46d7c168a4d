// The poll_progress=auto detector: see shared_cpu_regime.h.
#include "tcp/shared_cpu_regime.h"

#include "tcp/engine.h"  // NowNs

namespace nixl::tcp {

void SharedCpuRegime::Yield() {
  const uint64_t start = NowNs();
  sched_yield();
  Note(NowNs() - start);
}

void SharedCpuRegime::Note(uint64_t yieldNs) {
  const bool isLong = yieldNs >= kLongYieldNs;
  (isLong ? longYields_ : shortYields_).fetch_add(1, std::memory_order_relaxed);
  if (isLong == Shared()) {
    streak_ = 0;
    return;
  }
  if (++streak_ < kStreak) return;
  streak_ = 0;
  shared_.store(isLong, std::memory_order_relaxed);
  (isLong ? switchesOn_ : switchesOff_).fetch_add(1, std::memory_order_relaxed);
}

RegimeCounters SharedCpuRegime::Counters() const {
  return {Shared(), switchesOn_.load(std::memory_order_relaxed),
          switchesOff_.load(std::memory_order_relaxed), longYields_.load(std::memory_order_relaxed),
          shortYields_.load(std::memory_order_relaxed)};
}

}  // namespace nixl::tcp
