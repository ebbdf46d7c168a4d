// Cost of one frame queued and sent (push at the back, pop at the front, one
// item in the queue at a time, as a one-at-a-time transfer does), std::deque
// against native/tcp/ring.h, with an item laid out as native/tcp's TxItem.
//   g++ -O3 -std=c++20 -I native -o /tmp/rvd ring-vs-deque.cc && /tmp/rvd
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <vector>

#include "tcp/ring.h"

struct Item {  // native/tcp/engine_internal.h's TxItem, with a 48-byte header
  uint8_t hdr[48];
  const uint8_t* payload = nullptr;
  uint64_t len = 0;
  uint64_t sent = 0;
  std::vector<uint8_t> owned;
  uint32_t srcRegion = 0;
  uint64_t srcKey = 0;
  bool trailer = false;
  int32_t trailerStatus = 0;
  int passFd = -1;
};

static double NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

template <typename Q>
static double PerPair(Q& q, int n) {
  double t0 = NowNs();
  for (int i = 0; i < n; i++) {
    q.emplace_back();
    q.back().len = i;
    asm volatile("" ::"r"(&q.front()) : "memory");
    q.pop_front();
  }
  return (NowNs() - t0) / n;
}

int main() {
  const int n = 10'000'000;
  for (int round = 0; round < 5; round++) {
    std::deque<Item> d;
    nixl::tcp::Ring<Item> r;
    double dn = PerPair(d, n), rn = PerPair(r, n);
    printf("round %d: deque %.1f ns, ring %.1f ns per push+pop\n", round, dn, rn);
  }
}
