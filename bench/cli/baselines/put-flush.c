// What a NIXL request costs UCX itself, without nixl-ts: a plain C program
// keeps WINDOW requests in flight, each BATCH ucp_put_nbx (or ucp_get_nbx) of
// SIZE bytes followed by one ucp_ep_flush_nbx, and reposts a request as soon
// as its flush completes. That is the work a request of BATCH descriptors of
// the UCX backend does (NIXL's completion is remote completion, so a flush per
// request); ucx_perftest's ucp_put_bw completes nothing per message. Request
// k's descriptors lie one after the other in its own BATCH x SIZE bytes, as
// nixl-ts-bench lays out its depth slots.
//
//   put-flush OP SIZE BATCH WINDOW MS ALLOC ERRMODE TLS [KEY=VALUE ...]
//
// OP is put or get; ALLOC=1 maps memory UCX allocates (shared memory a peer
// on this host maps), 0 private memory; ERRMODE is peer or none; TLS is
// UCX_TLS; KEY=VALUE pairs are further UCX settings (without the UCX_
// prefix). NET_DEVICES is lo. The target is a forked child: the two exchange
// addresses over a socketpair, and UCX traffic goes over loopback or shared
// memory only. Both processes poll UCX without sleeping, as ucx_perftest
// does. Runs MS milliseconds after a 200 ms warm-up and prints one JSON line:
// requests per second, GB/s (1e9 B/s) and the mean µs per request.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

static void check(ucs_status_t s, const char* what) {
  if (s != UCS_OK) {
    fprintf(stderr, "put-flush: %s: %s\n", what, ucs_status_string(s));
    exit(1);
  }
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void send_blob(int fd, const void* p, uint64_t n) {
  if (write(fd, &n, 8) != 8 || write(fd, p, n) != (ssize_t)n) {
    perror("put-flush: write");
    exit(1);
  }
}

static void* recv_blob(int fd, uint64_t* n) {
  if (read(fd, n, 8) != 8) exit(1);
  char* p = malloc(*n);
  for (uint64_t got = 0; got < *n;) {
    ssize_t r = read(fd, p + got, *n - got);
    if (r <= 0) exit(1);
    got += (uint64_t)r;
  }
  return p;
}

struct side {
  ucp_context_h ctx;
  ucp_worker_h worker;
  ucp_mem_h memh;
  void* buf;
};

static void open_side(struct side* s, char** argv, int argc, size_t len, int alloc) {
  ucp_config_t* config;
  check(ucp_config_read(NULL, NULL, &config), "ucp_config_read");
  check(ucp_config_modify(config, "TLS", argv[8]), "TLS");
  check(ucp_config_modify(config, "NET_DEVICES", "lo"), "NET_DEVICES");
  for (int i = 9; i < argc; ++i) {
    char* eq = strchr(argv[i], '=');
    if (eq == NULL) continue;
    *eq = '\0';
    check(ucp_config_modify(config, argv[i], eq + 1), argv[i]);
    *eq = '=';
  }
  ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES, .features = UCP_FEATURE_RMA};
  check(ucp_init(&params, config, &s->ctx), "ucp_init");
  ucp_config_release(config);
  ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                            .thread_mode = UCS_THREAD_MODE_SINGLE};
  check(ucp_worker_create(s->ctx, &wp, &s->worker), "ucp_worker_create");
  ucp_mem_map_params_t mp = {.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS |
                                           UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                                           UCP_MEM_MAP_PARAM_FIELD_FLAGS,
                             .length = len};
  if (alloc) {
    mp.address = NULL;
    mp.flags = UCP_MEM_MAP_ALLOCATE;
  } else {
    if (posix_memalign(&mp.address, 4096, len) != 0) exit(1);
    memset(mp.address, 1, len);
  }
  check(ucp_mem_map(s->ctx, &mp, &s->memh), "ucp_mem_map");
  ucp_mem_attr_t attr = {.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS};
  check(ucp_mem_query(s->memh, &attr), "ucp_mem_query");
  s->buf = attr.address;
}

// The target: publishes its worker address, region and rkey, then polls UCX
// (tcp and emulated RMA need the target's progress) until the initiator says stop.
static void run_target(int fd, char** argv, int argc, size_t len, int alloc) {
  struct side s;
  open_side(&s, argv, argc, len, alloc);
  ucp_address_t* addr;
  size_t addr_len;
  check(ucp_worker_get_address(s.worker, &addr, &addr_len), "ucp_worker_get_address");
  void* rkey;
  size_t rkey_len;
  check(ucp_rkey_pack(s.ctx, s.memh, &rkey, &rkey_len), "ucp_rkey_pack");
  uint64_t where = (uint64_t)(uintptr_t)s.buf;
  send_blob(fd, addr, addr_len);
  send_blob(fd, rkey, rkey_len);
  send_blob(fd, &where, 8);
  for (unsigned n = 0;; ++n) {
    ucp_worker_progress(s.worker);
    if ((n & 255) == 0) {
      char stop;
      if (recv(fd, &stop, 1, MSG_DONTWAIT) >= 0) break;
    }
  }
  // The initiator closed its endpoint before saying stop.
  _exit(0);
}

struct slot {
  int done;
};

static void flushed(void* request, ucs_status_t status, void* user_data) {
  check(status, "flush");
  ((struct slot*)user_data)->done = 1;
  ucp_request_free(request);
}

// Issues one request: its BATCH puts or gets at `offset` in both regions,
// then one flush; the slot is done when the flush completes.
static void post(ucp_ep_h ep, struct side* s, int get, size_t size, size_t batch, size_t offset,
                 uint64_t remote, ucp_rkey_h rkey, struct slot* slot) {
  ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_MEMH, .memh = s->memh};
  for (size_t j = 0; j < batch; ++j) {
    char* local = (char*)s->buf + offset + j * size;
    uint64_t at = remote + offset + j * size;
    ucs_status_ptr_t r = get ? ucp_get_nbx(ep, local, size, at, rkey, &p)
                             : ucp_put_nbx(ep, local, size, at, rkey, &p);
    if (UCS_PTR_IS_ERR(r)) check(UCS_PTR_STATUS(r), get ? "ucp_get_nbx" : "ucp_put_nbx");
    if (r != NULL) ucp_request_free(r);  // the flush covers its completion
  }
  ucp_request_param_t fp = {
      .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
      .cb.send = flushed,
      .user_data = slot};
  slot->done = 0;
  ucs_status_ptr_t f = ucp_ep_flush_nbx(ep, &fp);
  if (f == NULL) slot->done = 1;
  if (UCS_PTR_IS_ERR(f)) check(UCS_PTR_STATUS(f), "ucp_ep_flush_nbx");
}

int main(int argc, char** argv) {
  if (argc < 9) {
    fprintf(stderr,
            "usage: put-flush put|get SIZE BATCH WINDOW MS ALLOC peer|none TLS [KEY=VALUE ...]\n");
    return 2;
  }
  const int get = strcmp(argv[1], "get") == 0;
  const size_t size = strtoull(argv[2], NULL, 10);
  const size_t batch = strtoull(argv[3], NULL, 10);
  const int window = atoi(argv[4]);
  const double ms = atof(argv[5]);
  const int alloc = atoi(argv[6]);
  const int peer_errors = strcmp(argv[7], "peer") == 0;
  if (size == 0 || batch == 0 || window <= 0) return 2;
  const size_t area = size * batch;  // one request's bytes
  const size_t len = area * (size_t)window;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    run_target(fds[1], argv, argc, len, alloc);
  }
  close(fds[1]);
  struct side s;
  open_side(&s, argv, argc, len, alloc);
  uint64_t n;
  void* addr = recv_blob(fds[0], &n);
  void* rkey_buf = recv_blob(fds[0], &n);
  uint64_t* where = recv_blob(fds[0], &n);
  ucp_ep_params_t ep_params = {
      .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
      .address = addr,
      .err_mode = peer_errors ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE};
  ucp_ep_h ep;
  check(ucp_ep_create(s.worker, &ep_params, &ep), "ucp_ep_create");
  ucp_rkey_h rkey;
  check(ucp_ep_rkey_unpack(ep, rkey_buf, &rkey), "ucp_ep_rkey_unpack");

  struct slot* slots = calloc((size_t)window, sizeof *slots);
  double start = 0;
  uint64_t counted = 0;
  for (int i = 0; i < window; ++i)
    post(ep, &s, get, size, batch, i * area, *where, rkey, &slots[i]);
  const double warm_end = now_ms() + 200;
  for (unsigned spins = 0;; ++spins) {
    ucp_worker_progress(s.worker);
    for (int i = 0; i < window; ++i) {
      if (!slots[i].done) continue;
      if (start > 0) ++counted;
      post(ep, &s, get, size, batch, i * area, *where, rkey, &slots[i]);
    }
    if ((spins & 63) != 0) continue;
    const double t = now_ms();
    if (start == 0 && t >= warm_end) {
      start = t;
      counted = 0;
    } else if (start > 0 && t - start >= ms) {
      const double secs = (t - start) / 1e3;
      printf("{\"requests_per_s\":%.0f,\"gbps\":%.4f,\"mean_us\":%.3f}\n", counted / secs,
             counted * (double)area / secs / 1e9, counted ? (t - start) * 1e3 * window / counted : 0);
      break;
    }
  }
  // Let the last requests finish, close the endpoint, then stop the target.
  for (int i = 0; i < window; ++i) {
    for (int spins = 0; !slots[i].done && spins < 10000000; ++spins) ucp_worker_progress(s.worker);
  }
  ucp_rkey_destroy(rkey);
  ucp_request_param_t cp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                            .flags = peer_errors ? UCP_EP_CLOSE_FLAG_FORCE : 0};
  ucs_status_ptr_t c = ucp_ep_close_nbx(ep, &cp);
  if (UCS_PTR_IS_PTR(c)) {
    for (int spins = 0; ucp_request_check_status(c) == UCS_INPROGRESS && spins < 10000000; ++spins)
      ucp_worker_progress(s.worker);
    ucp_request_free(c);
  }
  if (write(fds[0], "x", 1) != 1) return 1;
  waitpid(child, NULL, 0);
  return 0;
}
