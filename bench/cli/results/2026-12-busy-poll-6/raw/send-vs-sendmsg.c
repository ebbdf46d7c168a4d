// send() against sendmsg() with one iovec, 48 B frames over loopback TCP; a
// second thread drains. Prints ns per call, alternating blocks of each.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static int rfd;
static void* drain(void* a) { char b[65536]; while (recv(rfd, b, sizeof b, 0) > 0) {} return 0; }
static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
int main() {
  int l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001);
  bind(l, (void*)&a, sizeof a); listen(l, 1); socklen_t al = sizeof a; getsockname(l, (void*)&a, &al);
  int s = socket(AF_INET, SOCK_STREAM, 0); connect(s, (void*)&a, sizeof a); rfd = accept(l, 0, 0);
  int one = 1; setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  pthread_t th; pthread_create(&th, 0, drain, 0);
  char buf[48] = {0}; const int N = 200000;
  static double A[200000], B[200000];
  for (int r = 0; r < 3; r++) {
    for (int i = 0; i < N; i++) {
      double t0 = now(); send(s, buf, 48, MSG_NOSIGNAL); double t1 = now();
      struct iovec v = {buf, 48}; struct msghdr m = {0}; m.msg_iov = &v; m.msg_iovlen = 1; sendmsg(s, &m, MSG_NOSIGNAL);
      double t2 = now(); A[i] = t1 - t0; B[i] = t2 - t1;
    }
    int cmp(const void* x, const void* y) { double d = *(double*)x - *(double*)y; return d < 0 ? -1 : d > 0; }
    qsort(A, N, sizeof(double), cmp); qsort(B, N, sizeof(double), cmp);
    printf("median send %.0f ns  sendmsg(1 iov) %.0f ns; p25 %.0f / %.0f\n", A[N/2], B[N/2], A[N/4], B[N/4]);
  }
  shutdown(s, SHUT_WR); pthread_join(th, 0); return 0;
}
