// One poll(2) with a 0 timeout on the pidfd of a live process: what UCX errorHandling
// 'process' pays per transfer to check, before settling it DONE, that the peer still lives.
// gcc -O2 -o /tmp/pidfd-poll bench/probes/pidfd-poll.c && /tmp/pidfd-poll
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(void) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    return 0;
  }
  int fd = syscall(SYS_pidfd_open, child, 0);
  struct timespec a, b;
  int n = 1000000, ready = 0;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    struct pollfd p = {fd, POLLIN, 0};
    ready += poll(&p, 1, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("poll(pidfd, 0) of a live process: %.0f ns each (%d ready)\n",
         ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n, ready);
  kill(child, 9);
  return 0;
}
