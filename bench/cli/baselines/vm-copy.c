// The floor of a same-host transfer, as a plain C program gets it: one
// process copies into (write) or out of (read) another process's memory with
// process_vm_writev / process_vm_readv, one call per transfer, BATCH
// descriptors of SIZE bytes as that many iovecs on each side (split in calls
// of at most IOV_MAX), laid out one after the other as nixl-ts-bench lays out
// a batch. No request, answer or notification: only the kernel's copy between
// two address spaces, which is what the TCP backend's same-host path does for
// each transfer's payload.
//
//   vm-copy write|read SIZE BATCH MS
//
// The other process is a forked child that maps and touches its area, sends
// its address over a pipe and waits until the parent is done. Runs for MS
// milliseconds (at most 1,000,000 transfers) after 3 warm-up transfers and
// prints the mean, median, 10th and 90th percentile in µs per transfer as one
// JSON line.
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void* a, const void* b) {
  double d = *(const double*)a - *(const double*)b;
  return d < 0 ? -1 : d > 0;
}

// An area as agent.alloc() makes one: page-aligned, transparent huge pages
// asked for (2 MiB-aligned), touched.
static char* area_of(size_t len) {
  const size_t huge = 2u << 20;
  char* p = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("vm-copy: mmap");
    exit(1);
  }
  p = (char*)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
  madvise(p, len, MADV_HUGEPAGE);
  memset(p, 1, len);  // first-touch faults are not the copy
  return p;
}

// One transfer: every block, IOV_MAX iovecs per call at most.
static void transfer(pid_t peer, int write_op, struct iovec* local, struct iovec* remote,
                     size_t batch, size_t size) {
  for (size_t done = 0; done < batch;) {
    size_t n = batch - done < IOV_MAX ? batch - done : IOV_MAX;
    ssize_t r = write_op ? process_vm_writev(peer, local + done, n, remote + done, n, 0)
                         : process_vm_readv(peer, local + done, n, remote + done, n, 0);
    if (r != (ssize_t)(n * size)) {
      perror(write_op ? "vm-copy: process_vm_writev" : "vm-copy: process_vm_readv");
      exit(1);
    }
    done += n;
  }
}

int main(int argc, char** argv) {
  if (argc != 5 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
    fprintf(stderr, "usage: vm-copy write|read SIZE BATCH MS\n");
    return 2;
  }
  int write_op = strcmp(argv[1], "write") == 0;
  size_t size = strtoull(argv[2], NULL, 10);
  size_t batch = strtoull(argv[3], NULL, 10);
  double ms = atof(argv[4]);
  if (size == 0 || batch == 0) return 2;
  size_t len = size * batch;

  int addr_pipe[2];
  int stop_pipe[2];
  if (pipe(addr_pipe) != 0 || pipe(stop_pipe) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    close(addr_pipe[0]);
    close(stop_pipe[1]);
    uint64_t where = (uint64_t)(uintptr_t)area_of(len);
    if (write(addr_pipe[1], &where, 8) != 8) _exit(1);
    char c;
    while (read(stop_pipe[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  close(addr_pipe[1]);
  close(stop_pipe[0]);
  uint64_t where = 0;
  if (read(addr_pipe[0], &where, 8) != 8) {
    fprintf(stderr, "vm-copy: the child did not start\n");
    return 1;
  }
  char* mine = area_of(len);
  struct iovec* local = calloc(batch, sizeof *local);
  struct iovec* remote = calloc(batch, sizeof *remote);
  for (size_t j = 0; j < batch; j++) {
    local[j] = (struct iovec){mine + j * size, size};
    remote[j] = (struct iovec){(void*)(uintptr_t)(where + j * size), size};
  }

  enum { kMax = 1000000 };
  double* times = malloc(sizeof(double) * kMax);
  for (int i = 0; i < 3; i++) transfer(child, write_op, local, remote, batch, size);
  int n = 0;
  double until = now_us() + ms * 1000;
  while (n < kMax && (n < 3 || now_us() < until)) {
    double t0 = now_us();
    transfer(child, write_op, local, remote, batch, size);
    times[n++] = now_us() - t0;
  }
  close(stop_pipe[1]);
  waitpid(child, NULL, 0);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += times[i];
  qsort(times, n, sizeof(double), by_value);
  printf("{\"mean\":%.3f,\"p10\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"n\":%d}\n", sum / n,
         times[n / 10], times[n / 2], times[n * 9 / 10], n);
  return 0;
}
