// How a one-at-a-time WRITE over loopback TCP spends its time, by the threads'
// habits: the client sends SIZE bytes split over LANES connections (a 16-byte
// header, then that lane's share, non-blocking writev round-robin over the
// lanes, as UCX's tcp transport sends a multi-rail put), a server process
// receives every lane's share straight into place and answers 8 bytes per
// lane, and the client waits for every answer before the next request.
//
//   write-lanes SIZE MS LANES CSPIN SSPIN [RCVBUF] [CC] [LOWAT]
//
// CSPIN=1: the client spins on non-blocking calls (as nixlbench's caller
// progresses UCX); 0: it sleeps in poll() while it waits. SSPIN=1: the server
// spins on non-blocking recv over its lanes (as nixlbench's target does, which
// polls getNotifs and so progresses UCX); 0: it sleeps in epoll_wait (as the
// engine's I/O thread does). RCVBUF: SO_RCVBUF of the server's sockets (0 or
// absent: the kernel's autotuning). CC: congestion control of both ends.
// LOWAT: a server that caught up with the sender inside a payload sets
// SO_RCVLOWAT to this much (or what is left) before it sleeps again.
// Prints the mean, median, 10th and 90th percentile in µs as one JSON line.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMaxLanes = 8, kMaxRequests = 200000 };

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

struct lane_rx {
  int fd;
  uint64_t hdr[2];  // offset, length
  size_t hdr_got;
  size_t pay_got;
  int lowat_set;
};

static long sleeps, served;  // the server's EAGAINs and answered requests

// Server: reads every lane's header and payload into place, answers 8 bytes.
static int lowat;  // SO_RCVLOWAT while a payload is due (0: never set)

static void set_lowat(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) != 0) die("SO_RCVLOWAT");
}

static void serve(int* fds, int lanes, char* buf, int spin) {
  struct lane_rx rx[kMaxLanes] = {0};
  int ep = epoll_create1(0);
  for (int i = 0; i < lanes; i++) {
    rx[i].fd = fds[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  uint64_t ack = 0;
  for (;;) {
    struct epoll_event evs[kMaxLanes];
    int n;
    if (spin) {
      n = lanes;
      for (int i = 0; i < lanes; i++) evs[i].data.u32 = (uint32_t)i;
    } else {
      n = epoll_wait(ep, evs, kMaxLanes, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      struct lane_rx* l = &rx[evs[k].data.u32];
      for (;;) {
        ssize_t r;
        if (l->hdr_got < sizeof l->hdr) {
          r = recv(l->fd, (char*)l->hdr + l->hdr_got, sizeof l->hdr - l->hdr_got, MSG_DONTWAIT);
          if (r > 0) l->hdr_got += (size_t)r;
        } else {
          r = recv(l->fd, buf + l->hdr[0] + l->pay_got, l->hdr[1] - l->pay_got, MSG_DONTWAIT);
          if (r > 0) l->pay_got += (size_t)r;
        }
        if (r == 0) {
          fprintf(stderr, "server: %.2f EAGAIN per request\n", (double)sleeps / served);
          exit(0);
        }
        if (r < 0) {
          if (errno != EAGAIN && errno != EINTR) die("recv");
          // Caught up with the sender inside a payload: wake for a chunk.
          if (lowat > 0 && l->hdr_got == sizeof l->hdr) {
            size_t left = l->hdr[1] - l->pay_got;
            set_lowat(l->fd, (int)(left < (size_t)lowat ? left : (size_t)lowat));
            l->lowat_set = 1;
          }
          sleeps++;
          break;
        }
        if (l->hdr_got == sizeof l->hdr && l->pay_got == l->hdr[1]) {
          if (l->lowat_set) set_lowat(l->fd, 1);
          l->lowat_set = 0;
          if (send(l->fd, &ack, sizeof ack, MSG_NOSIGNAL) != sizeof ack) die("send ack");
          l->hdr_got = l->pay_got = 0;
          served++;
          break;
        }
      }
    }
  }
}

struct lane_tx {
  int fd;
  uint64_t hdr[2];
  struct iovec iov[2];
  size_t left;  // bytes of header + payload still to send
  int acked;
};

static void advance(struct lane_tx* l, size_t n) {
  l->left -= n;
  for (int i = 0; i < 2 && n > 0; i++) {
    size_t take = n < l->iov[i].iov_len ? n : l->iov[i].iov_len;
    l->iov[i].iov_base = (char*)l->iov[i].iov_base + take;
    l->iov[i].iov_len -= take;
    n -= take;
  }
}

static void one_write(int* fds, int lanes, char* buf, size_t size, int spin) {
  struct lane_tx tx[kMaxLanes];
  size_t share = (size + lanes - 1) / lanes, off = 0;
  for (int i = 0; i < lanes; i++) {
    size_t len = size - off < share ? size - off : share;
    tx[i] = (struct lane_tx){.fd = fds[i], .hdr = {off, len}, .acked = 0};
    tx[i].iov[0] = (struct iovec){tx[i].hdr, sizeof tx[i].hdr};
    tx[i].iov[1] = (struct iovec){buf + off, len};
    tx[i].left = sizeof tx[i].hdr + len;
    off += len;
  }
  int unacked = lanes;
  while (unacked > 0) {
    int progress = 0;
    for (int i = 0; i < lanes; i++) {
      struct lane_tx* l = &tx[i];
      if (l->left > 0) {
        struct iovec* v = l->iov[0].iov_len ? &l->iov[0] : &l->iov[1];
        ssize_t r = writev(l->fd, v, l->iov[0].iov_len ? 2 : 1);
        if (r < 0 && errno != EAGAIN && errno != EINTR) die("writev");
        if (r > 0) {
          advance(l, (size_t)r);
          progress = 1;
        }
      } else if (!l->acked) {
        uint64_t a;
        ssize_t r = recv(l->fd, &a, sizeof a, MSG_DONTWAIT);
        if (r == 0) die("server closed");
        if (r < 0 && errno != EAGAIN && errno != EINTR) die("recv ack");
        if (r == sizeof a) {
          l->acked = 1;
          unacked--;
          progress = 1;
        }
      }
    }
    if (!progress && !spin && unacked > 0) {
      struct pollfd p[kMaxLanes];
      int m = 0;
      for (int i = 0; i < lanes; i++) {
        if (tx[i].left > 0)
          p[m++] = (struct pollfd){tx[i].fd, POLLOUT, 0};
        else if (!tx[i].acked)
          p[m++] = (struct pollfd){tx[i].fd, POLLIN, 0};
      }
      poll(p, m, -1);
    }
  }
}

static int by_value(const void* a, const void* b) {
  double d = *(const double*)a - *(const double*)b;
  return d < 0 ? -1 : d > 0;
}

int main(int argc, char** argv) {
  if (argc < 6 || argc > 9) {
    fprintf(stderr, "usage: write-lanes SIZE MS LANES CSPIN SSPIN [RCVBUF] [CC] [LOWAT]\n");
    return 2;
  }
  size_t size = strtoul(argv[1], NULL, 10);
  double ms = atof(argv[2]);
  int lanes = atoi(argv[3]);
  int cspin = atoi(argv[4]), sspin = atoi(argv[5]);
  int rcvbuf = argc > 6 ? atoi(argv[6]) : 0;
  const char* cc = argc > 7 ? argv[7] : "";
  lowat = argc > 8 ? atoi(argv[8]) : 0;
  if (lanes < 1 || lanes > kMaxLanes) return 2;
  char* buf = malloc(size);
  memset(buf, 1, size);
  int one = 1;

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (cc[0] && setsockopt(listener, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) != 0) {
    die("TCP_CONGESTION");
  }
  if (rcvbuf > 0) setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listener, 8) != 0 ||
      getsockname(listener, (struct sockaddr*)&addr, &len) != 0) {
    die("listen");
  }
  pid_t server = fork();
  if (server == 0) {
    int fds[kMaxLanes];
    for (int i = 0; i < lanes; i++) {
      fds[i] = accept(listener, NULL, NULL);
      setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    serve(fds, lanes, buf, sspin);
    return 0;
  }
  close(listener);
  int fds[kMaxLanes];
  for (int i = 0; i < lanes; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cc[0]) setsockopt(fds[i], IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc));
    if (connect(fds[i], (struct sockaddr*)&addr, sizeof addr) != 0) die("connect");
    fcntl(fds[i], F_SETFL, O_NONBLOCK);  // writev takes what the socket takes
  }
  double* times = malloc(sizeof(double) * kMaxRequests);
  for (int i = 0; i < 20; i++) one_write(fds, lanes, buf, size, cspin);  // buffers grow
  int n = 0;
  double until = now_us() + ms * 1000;
  while (n < kMaxRequests && (n < 3 || now_us() < until)) {
    double t0 = now_us();
    one_write(fds, lanes, buf, size, cspin);
    times[n++] = now_us() - t0;
  }
  for (int i = 0; i < lanes; i++) close(fds[i]);
  waitpid(server, NULL, 0);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += times[i];
  qsort(times, n, sizeof(double), by_value);
  printf(
      "{\"size\":%zu,\"lanes\":%d,\"cspin\":%d,\"sspin\":%d,\"mean\":%.2f,\"p10\":%.2f,"
      "\"p50\":%.2f,\"p90\":%.2f,\"gbps\":%.2f,\"n\":%d}\n",
      size, lanes, cspin, sspin, sum / n, times[n / 10], times[n / 2], times[n * 9 / 10],
      size / times[n / 2] / 1e3, n);
  return 0;
}
