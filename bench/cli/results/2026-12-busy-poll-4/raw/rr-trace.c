// The floor of a one-at-a-time transfer over loopback TCP, as a plain C
// program gets it. write: the client sends SIZE bytes on one connection, a
// server process receives them and answers 8 bytes, and the client waits for
// the answer before the next request (a WRITE: payload out, completion back).
// read: the client sends 8 bytes and the server answers SIZE (a READ).
//
//   request-response write|read SIZE MS SPIN [CC]
//
// SPIN=0 blocks in send/recv (threads sleep while they wait, as the engine's
// default params do); SPIN=1 retries non-blocking calls instead (as
// busy_poll_us does). Runs for MS milliseconds (at most 200,000 requests) and
// prints the mean, median, 10th and 90th percentile in µs as one JSON line.
// CC: the TCP congestion control of both ends (as the engine's tcp_congestion
// sets it), absent or empty for the system default.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int spin;
#define NREC 4000000
static unsigned long long rec_ns[NREC]; static int rec_k[NREC]; static int nrec;
static void mark(int k){ if(nrec>=NREC) return; struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); rec_ns[nrec]=t.tv_sec*1000000000ull+t.tv_nsec; rec_k[nrec++]=k; }
static void dump(void){ char n[256]; snprintf(n,sizeof n,"/tmp/bp4/c.%d",getpid()); FILE*f=fopen(n,"w"); for(int i=0;i<nrec;i++) fprintf(f,"%llu %d\n",rec_ns[i],rec_k[i]); fclose(f);}


static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

// Returns 0 when the peer closed the connection, 1 once all n bytes arrived.
static int recv_all(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, buf + got, n - got, spin ? MSG_DONTWAIT : 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r < 0) {
      perror("recv");
      exit(1);
    }
    if (r == 0) return 0;
    got += (size_t)r;
  }
  return 1;
}

static void send_all(int fd, const char* buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t r = send(fd, buf + put, n - put, MSG_NOSIGNAL | (spin ? MSG_DONTWAIT : 0));
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r < 0) {
      perror("send");
      exit(1);
    }
    put += (size_t)r;
  }
}

static int by_value(const void* a, const void* b) {
  double d = *(const double*)a - *(const double*)b;
  return d < 0 ? -1 : d > 0;
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
    fprintf(stderr, "usage: request-response write|read SIZE MS SPIN [CC]\n");
    return 2;
  }
  int read_op = strcmp(argv[1], "read") == 0;
  size_t size = strtoul(argv[2], NULL, 10);
  double ms = atof(argv[3]);
  spin = atoi(argv[4]);
  char* buf = malloc(size ? size : 1);
  memset(buf, 1, size);
  char small[8] = {0};
  // What goes each way: the request, then the answer.
  char* req = read_op ? small : buf;
  size_t req_len = read_op ? sizeof small : size;
  char* ans = read_op ? buf : small;
  size_t ans_len = read_op ? size : sizeof small;
  int one = 1;
  const char* cc = argc == 6 ? argv[5] : "";

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  // Accepted connections inherit it from the listener.
  if (cc[0] != '\0' && setsockopt(listener, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) != 0) {
    perror("TCP_CONGESTION");
    return 1;
  }
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr*)&addr, &len) != 0) {
    perror("listen");
    return 1;
  }
  pid_t server = fork();
  if (server == 0) {
    int s = accept(listener, NULL, NULL);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (recv_all(s, req, req_len)) { mark(6); send_all(s, ans, ans_len); mark(7);}
    dump(); return 0;
  }
  close(listener);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cc[0] != '\0') setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc));
  if (connect(c, (struct sockaddr*)&addr, sizeof addr) != 0) {
    perror("connect");
    return 1;
  }

  enum { kMaxRequests = 200000 };
  double* times = malloc(sizeof(double) * kMaxRequests);
  int n = 0;
  for (int i = 0; i < 3; i++) {  // warm-up: connection buffers grow
    send_all(c, req, req_len);
    recv_all(c, ans, ans_len);
  }
  double until = now_us() + ms * 1000;
  while (n < kMaxRequests && (n < 3 || now_us() < until)) {
    double t0 = now_us();
    mark(1);
    send_all(c, req, req_len);
    mark(2);
    if (!recv_all(c, ans, ans_len)) {
      fprintf(stderr, "server closed the connection\n");
      return 1;
    }
    mark(3);
    times[n++] = now_us() - t0;
  }
  close(c);
  waitpid(server, NULL, 0);
  dump();
  double sum = 0;
  for (int i = 0; i < n; i++) sum += times[i];
  qsort(times, n, sizeof(double), by_value);
  printf("{\"mean\":%.2f,\"p10\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"n\":%d}\n", sum / n,
         times[n / 10], times[n / 2], times[n * 9 / 10], n);
  return 0;
}
