// Experiment only: copy to native/ucx/trace_tmp.h before applying experiment.patch. Per-thread event times (UCXTRACE=1).
#pragma once
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
namespace nixl::ucx::trace {
struct Ev {
  uint64_t ns;
  int id;
  int tid;
};
inline Ev g[1 << 20];
inline std::atomic<unsigned> n{0};
inline bool on() {
  static bool o = getenv("UCXTRACE") != nullptr;
  return o;
}
inline void T(int id) {
  if (!on()) return;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned i = n.fetch_add(1);
  if (i < (1u << 20))
    g[i] = {uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec, id, int(syscall(SYS_gettid))};
}
inline void Dump() {
  if (!on()) return;
  char p[128];
  snprintf(p, sizeof p, "/tmp/ucxack/trace.%d", getpid());
  FILE* f = fopen(p, "w");
  unsigned m = n.load();
  if (m > (1u << 20)) m = 1u << 20;
  for (unsigned i = 0; i < m; ++i) fprintf(f, "%lu %d %d\n", g[i].ns, g[i].id, g[i].tid);
  fclose(f);
}
}  // namespace nixl::ucx::trace
