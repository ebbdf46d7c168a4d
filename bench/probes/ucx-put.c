// One WRITE at a time over loopback TCP with the wire pattern of UCX's tcp
// transport under NIXL (ucp_put_nbx + ep flush + the transfer's notification),
// beside our engine's pattern, so the two can be timed in the same minute.
//
//   ucx-put SIZE MS RXSEG NOTIF CSPIN SSPIN [CC] [CHUNK]
//
// The initiator sends, in one non-blocking writev, a 5-byte AM header
// (am_id, length), a 20-byte put request (address, length, sequence number)
// and the payload (uct_tcp_ep_put_zcopy), then waits for the 9-byte PUT_ACK
// (NIXL's DONE is the flush completing on that ACK). NOTIF=1: it then sends a
// 64-byte notification (NIXL sends "0xBEEF" with every nixlbench transfer
// once the flush completed).
// The target: RXSEG>0: every receive that is not inside a payload reads up to
// RXSEG bytes into a bounce buffer (UCX's rx_seg_size, 64 KiB by default);
// payload bytes that came with the header are memcpy'd into place and the
// rest is received straight into place (uct_tcp_ep_progress_put_rx), then the
// ACK is sent. RXSEG=0: the header alone, then the payload into place (our
// engine's receive). CHUNK>0: payload receives are capped at CHUNK bytes.
// CSPIN/SSPIN=1: that side spins on non-blocking calls (nixlbench's caller
// progresses UCX in getXferStatus; its target loops on getNotifs, which
// progresses its worker); 2: it spins on poll() with a zero timeout and
// receives only when the socket is readable (as UCX's progress does with
// epoll_wait); 3: it blocks inside recv/writev (a blocking socket, as
// request-response.c); 0: it sleeps in poll() when a call would block.
// CC: congestion control of both ends ("" = the system default, which UCX
// keeps; our engine sets reno on loopback).
// Environment PIN=1: the initiator runs on CPU 0 and the target on CPU 1;
// ZEROSRC=1: the initiator sends from memory it never wrote (see main).
// Prints one JSON line: "loop" is nixlbench's figure (the timed loop's time
// over its transfers), then the mean, median, 10th and 90th percentile of
// single transfers in µs; the target prints its EAGAINs per payload (times it
// caught up with the sender) on stderr when the initiator closes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMaxRequests = 200000, kPutReq = 1, kPutAck = 2, kNotif = 3, kNotifLen = 64 };

#pragma pack(push, 1)
struct am_hdr {
  uint8_t am_id;
  uint32_t length;
};
struct put_req {
  uint64_t addr;
  uint64_t length;
  uint32_t sn;
};
struct put_ack {
  struct am_hdr hdr;
  uint32_t sn;
};
#pragma pack(pop)

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void pin_to(int cpu) {
  const char* pin = getenv("PIN");
  if (!pin || strcmp(pin, "1") != 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

static int rxseg, chunk;

// Waits until fd is readable: spin 0 sleeps in poll(); 1 returns at once (the
// caller retries recv, which takes the socket lock every time); 2 spins on
// poll() with no timeout, which reads the socket's state without its lock
// (UCX's progress spins on epoll_wait(epfd, ..., 0) before it receives).
static void wait_in(int fd, int spin) {
  if (spin == 1 || spin == 3) return;
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, spin == 2 ? 0 : -1) == 0) {
  }
}

// 3: the side blocks inside recv/writev instead (a socket without O_NONBLOCK).
static int blocking;  // this process's side blocks in its calls (mode 3)

// Returns bytes read, 0 for EAGAIN, exits on EOF.
static long caught_up;  // the target's EAGAINs inside a payload
static long served;

static size_t recv_some(int fd, void* to, size_t len) {
  ssize_t r = recv(fd, to, len, blocking ? 0 : MSG_DONTWAIT);
  if (r == 0) {
    if (served > 0)
      fprintf(stderr, "target: %.2f EAGAIN per payload\n", (double)caught_up / served);
    exit(0);
  }
  if (r < 0) {
    if (errno != EAGAIN && errno != EINTR) die("recv");
    return 0;
  }
  return (size_t)r;
}

static void send_all(int fd, const void* p, size_t len) {
  if (send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len) die("send");
}

static void serve(int fd, char* dest, int spin) {
  size_t bounce_size = rxseg > 0 ? (size_t)rxseg : sizeof(struct am_hdr) + sizeof(struct put_req);
  char* bounce = malloc(bounce_size + kNotifLen);
  size_t have = 0;  // bytes in the bounce buffer
  for (;;) {
    // Not inside a payload: fill the bounce buffer up to one message header.
    size_t want = rxseg > 0 ? bounce_size - have : sizeof(struct am_hdr) - have;
    if (have >= sizeof(struct am_hdr)) {
      struct am_hdr* h = (struct am_hdr*)bounce;
      if (rxseg == 0 && have < sizeof *h + h->length) want = sizeof *h + h->length - have;
    }
    size_t got = recv_some(fd, bounce + have, want);
    if (got == 0) {
      wait_in(fd, spin);
      continue;
    }
    have += got;
    while (have >= sizeof(struct am_hdr)) {
      struct am_hdr* h = (struct am_hdr*)bounce;
      if (have < sizeof *h + h->length) break;
      size_t used = sizeof *h + h->length;
      if (h->am_id == kPutReq) {
        struct put_req req;
        memcpy(&req, bounce + sizeof *h, sizeof req);
        size_t extra = have - used;
        size_t now = extra < req.length ? extra : req.length;
        memcpy(dest + req.addr, bounce + used, now);
        used += now;
        size_t done = now;
        while (done < req.length) {
          size_t len = req.length - done;
          if (chunk > 0 && len > (size_t)chunk) len = (size_t)chunk;
          size_t r = recv_some(fd, dest + req.addr + done, len);
          if (r == 0) {
            caught_up++;
            wait_in(fd, spin);
          }
          done += r;
        }
        struct put_ack ack = {{kPutAck, sizeof(uint32_t)}, req.sn};
        send_all(fd, &ack, sizeof ack);
        served++;
      }
      // kNotif: nothing to do but consume it.
      memmove(bounce, bounce + used, have - used);
      have -= used;
    }
  }
}

static void one_write(int fd, char* src, size_t size, uint32_t sn, int spin, int notif) {
  struct am_hdr h = {kPutReq, sizeof(struct put_req)};
  struct put_req req = {0, size, sn};
  struct iovec iov[3] = {{&h, sizeof h}, {&req, sizeof req}, {src, size}};
  size_t left = sizeof h + sizeof req + size;
  int first = 0;
  while (left > 0) {
    ssize_t r = writev(fd, &iov[first], 3 - first);
    if (r < 0) {
      if (errno != EAGAIN && errno != EINTR) die("writev");
      if (!spin) {
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, -1);
      }
      continue;
    }
    left -= (size_t)r;
    while (r > 0) {
      size_t take = (size_t)r < iov[first].iov_len ? (size_t)r : iov[first].iov_len;
      iov[first].iov_base = (char*)iov[first].iov_base + take;
      iov[first].iov_len -= take;
      r -= (ssize_t)take;
      if (iov[first].iov_len == 0 && first < 2) first++;
    }
  }
  struct put_ack ack;
  size_t got = 0;
  while (got < sizeof ack) {
    size_t r = recv_some(fd, (char*)&ack + got, sizeof ack - got);
    if (r == 0) wait_in(fd, spin);
    got += r;
  }
  if (ack.hdr.am_id != kPutAck || ack.sn != sn) die("bad ack");
  if (notif) {
    char msg[kNotifLen];
    struct am_hdr* nh = (struct am_hdr*)msg;
    nh->am_id = kNotif;
    nh->length = kNotifLen - sizeof *nh;
    memset(msg + sizeof *nh, 'n', kNotifLen - sizeof *nh);
    send_all(fd, msg, kNotifLen);
  }
}

static int by_value(const void* a, const void* b) {
  double d = *(const double*)a - *(const double*)b;
  return d < 0 ? -1 : d > 0;
}

int main(int argc, char** argv) {
  if (argc < 7 || argc > 9) {
    fprintf(stderr, "usage: ucx-put SIZE MS RXSEG NOTIF CSPIN SSPIN [CC] [CHUNK]\n");
    return 2;
  }
  size_t size = strtoul(argv[1], NULL, 10);
  double ms = atof(argv[2]);
  rxseg = atoi(argv[3]);
  int notif = atoi(argv[4]);
  int cspin = atoi(argv[5]), sspin = atoi(argv[6]);
  const char* cc = argc > 7 ? argv[7] : "";
  chunk = argc > 8 ? atoi(argv[8]) : 0;
  // ZEROSRC=1: the initiator sends from anonymous memory it never wrote, whose
  // pages all map the kernel's one zero page (always in cache).
  const char* zerosrc = getenv("ZEROSRC");
  int zero = zerosrc && strcmp(zerosrc, "1") == 0;
  char* buf = malloc(size);
  memset(buf, 1, size);
  char* src =
      zero ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : buf;
  if (src == MAP_FAILED) die("mmap");
  int one = 1;

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (cc[0] && setsockopt(listener, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) != 0) {
    die("TCP_CONGESTION");
  }
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr*)&addr, &len) != 0) {
    die("listen");
  }
  pid_t server = fork();
  if (server == 0) {
    pin_to(1);
    blocking = sspin == 3;
    int fd = accept(listener, NULL, NULL);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    serve(fd, buf, sspin);
    return 0;
  }
  pin_to(0);
  close(listener);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cc[0]) setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc));
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) die("connect");
  blocking = cspin == 3;
  if (!blocking) fcntl(fd, F_SETFL, O_NONBLOCK);
  double* times = malloc(sizeof(double) * kMaxRequests);
  uint32_t sn = 0;
  for (int i = 0; i < 20; i++) one_write(fd, src, size, ++sn, cspin, notif);  // buffers grow
  int n = 0;
  double start = now_us(), until = start + ms * 1000;
  while (n < kMaxRequests && (n < 3 || now_us() < until)) {
    double t0 = now_us();
    one_write(fd, src, size, ++sn, cspin, notif);
    times[n++] = now_us() - t0;
  }
  double total = now_us() - start;
  close(fd);
  waitpid(server, NULL, 0);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += times[i];
  qsort(times, n, sizeof(double), by_value);
  // "loop" is nixlbench's figure: the whole loop's time over the transfers.
  printf(
      "{\"size\":%zu,\"zerosrc\":%d,\"pin\":%d,\"rxseg\":%d,\"notif\":%d,\"cspin\":%d,\"sspin\":%d,"
      "\"cc\":\"%s\","
      "\"chunk\":%d,\"loop\":%.2f,\"mean\":%.2f,\"p10\":%.2f,\"p50\":%.2f,\"p90\":%.2f,"
      "\"gbps\":%.2f,\"n\":%d}\n",
      size, zero, getenv("PIN") && strcmp(getenv("PIN"), "1") == 0, rxseg, notif, cspin, sspin,
      cc[0] ? cc : "default", chunk, total / n, sum / n, times[n / 10], times[n / 2],
      times[n * 9 / 10], size / times[n / 2] / 1e3, n);
  return 0;
}
