// Progress drivers of the UCX engine.
//
// Over tcp and shared-memory emulation UCX's "one-sided" operations are served
// by the target's progress calls, so every engine keeps its workers
// progressing, in one of two ways:
//  - kThread: one thread polls all workers' event fds (ucp_worker_arm, then
//    poll()); the JavaScript thread never runs per-transfer work. Posts wake it
//    with ucp_worker_signal when it sleeps.
//  - kEventFd: a uv_poll on each worker's event fd on the libuv loop, plus a
//    uv_idle while there is more work than one wake-up's budget.
// Both do bounded work per wake-up (kBudget progress calls per worker) so that
// neither the JavaScript thread (posting under the worker's mutex) nor the
// event loop waits long.
#include <poll.h>
#include <pthread.h>
#include <uv.h>

#include <algorithm>
#include <chrono>

#include "ucx/engine.h"

namespace nixl::ucx {
namespace {
constexpr unsigned kBudget = 64;
// Idle progress rounds (each ends with a yield) before the thread sleeps.
constexpr unsigned kSpinRounds = 32;
// How long UCX may be neither armable nor progressing before the thread
// sleeps 1 ms per round (see ThreadMain).
constexpr auto kStuckFor = std::chrono::milliseconds(20);
}  // namespace

struct UcxEngine::UvState {
  struct PollHandle {
    uv_poll_t poll;
    UcxEngine* engine;
  };
  std::vector<PollHandle*> polls;
  uv_idle_t* idle = nullptr;
  bool idleActive = false;
  // Pumps again 1 ms later instead of at once when UCX is stuck (see Pump).
  uv_timer_t* timer = nullptr;
  std::chrono::steady_clock::time_point stuckSince{};
  // Pumps when the next HELLO retry is due (RetryHellos).
  uv_timer_t* helloTimer = nullptr;
};

void UcxEngine::StartTimeoutTimer(void* uvLoop) {
  if (opts_.timeoutMs == 0) return;
  auto* timer = new uv_timer_t();
  uv_timer_init(static_cast<uv_loop_t*>(uvLoop), timer);
  timer->data = this;
  // Several checks per timeout: a stall is seen at the first check after the
  // last move, so a stalled peer fails within the timeout plus two intervals.
  uint64_t every = std::clamp<uint64_t>(opts_.timeoutMs / 8, 10, 250);
  uv_timer_start(
      timer, [](uv_timer_t* t) { static_cast<UcxEngine*>(t->data)->CheckTimeouts(); }, every,
      every);
  uv_unref(reinterpret_cast<uv_handle_t*>(timer));  // never keeps the process alive
  timeoutTimer_ = timer;
}

void UcxEngine::StopTimeoutTimer() {
  if (timeoutTimer_ == nullptr) return;
  auto* timer = static_cast<uv_timer_t*>(timeoutTimer_);
  timeoutTimer_ = nullptr;
  uv_timer_stop(timer);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void UcxEngine::StartProgress(void* uvLoop) {
  uvLoop_ = uvLoop;
  StartTimeoutTimer(uvLoop);
  if (opts_.progress == ProgressMode::kThread) {
    thread_ = std::thread([this] { ThreadMain(); });
    return;
  }
  auto* loop = static_cast<uv_loop_t*>(uvLoop);
  uv_ = new UvState();
  for (auto& w : workers_) {
    auto* h = new UvState::PollHandle();
    h->engine = this;
    uv_poll_init(loop, &h->poll, w->efd);
    uv_unref(reinterpret_cast<uv_handle_t*>(&h->poll));
    h->poll.data = h;
    uv_->polls.push_back(h);
  }
  WatchEventFds(true);
  uv_->idle = new uv_idle_t();
  uv_idle_init(loop, uv_->idle);
  uv_->idle->data = this;
  // None of these handles keeps the process alive: the binding refs its
  // thread-safe function while transfers are in flight (native/LIFETIME.md).
  uv_unref(reinterpret_cast<uv_handle_t*>(uv_->idle));
  uv_->timer = new uv_timer_t();
  uv_timer_init(loop, uv_->timer);
  uv_->timer->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(uv_->timer));
  uv_->helloTimer = new uv_timer_t();
  uv_timer_init(loop, uv_->helloTimer);
  uv_->helloTimer->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(uv_->helloTimer));
  Pump();
}

void UcxEngine::StopProgress() {
  if (thread_.joinable()) {
    stop_.store(true);
    for (auto& w : workers_) ucp_worker_signal(w->handle);
    thread_.join();
  }
  StopLoopProgress();
}

void UcxEngine::StopLoopProgress() {
  if (uv_ != nullptr) {
    for (auto* h : uv_->polls) {
      uv_poll_stop(&h->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&h->poll),
               [](uv_handle_t* p) { delete static_cast<UvState::PollHandle*>(p->data); });
    }
    uv_idle_stop(uv_->idle);
    uv_close(reinterpret_cast<uv_handle_t*>(uv_->idle),
             [](uv_handle_t* p) { delete reinterpret_cast<uv_idle_t*>(p); });
    for (uv_timer_t* t : {uv_->timer, uv_->helloTimer}) {
      uv_timer_stop(t);
      uv_close(reinterpret_cast<uv_handle_t*>(t),
               [](uv_handle_t* p) { delete reinterpret_cast<uv_timer_t*>(p); });
    }
    delete uv_;
    uv_ = nullptr;
  }
}

void UcxEngine::WatchEventFds(bool on) {
  for (auto* h : uv_->polls) {
    if (!on) {
      uv_poll_stop(&h->poll);
      continue;
    }
    uv_poll_start(&h->poll, UV_READABLE, [](uv_poll_t* p, int, int) {
      static_cast<UvState::PollHandle*>(p->data)->engine->Pump();
    });
  }
}

// kEventFd: one bounded round on every worker, then arm; keep an idle handle
// running while a worker has more work or cannot be armed yet.
void UcxEngine::Pump() {
  if (closing()) return;
  bool busy = false;
  bool moved = false;
  int64_t helloRetryAt = 0;
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    unsigned n = 0;
    while (n < kBudget && ucp_worker_progress(w->handle) != 0) ++n;
    bool deferred = w->hasDeferred();
    DrainFlushed(*w);
    ReapClosing(*w);
    RetryHellos(*w);
    KeepEarliest(helloRetryAt, w->helloRetryAtNs);
    moved = moved || n > 0 || deferred;
    if (n == kBudget || !w->closing.empty() || w->hasDeferred()) {
      busy = true;
      continue;
    }
    if (ucp_worker_arm(w->handle) == UCS_ERR_BUSY) busy = true;
  }
  if (uv_ == nullptr) return;
  if (helloRetryAt != 0) {
    uv_timer_start(
        uv_->helloTimer, [](uv_timer_t* t) { static_cast<UcxEngine*>(t->data)->Pump(); },
        MsUntil(helloRetryAt, 1000), 0);
  }
  // As in ThreadMain: UCX busy yet nothing moving for kStuckFor (sends queued
  // toward an exited process) pumps every 1 ms instead of spinning the loop.
  if (!busy || moved) {
    uv_->stuckSince = {};
  } else {
    auto now = std::chrono::steady_clock::now();
    if (uv_->stuckSince == std::chrono::steady_clock::time_point{}) uv_->stuckSince = now;
    if (now - uv_->stuckSince >= kStuckFor) {
      if (uv_->idleActive) {
        uv_->idleActive = false;
        uv_idle_stop(uv_->idle);
      }
      // The event fds stay readable while UCX cannot be armed: stop watching
      // them until the timer.
      WatchEventFds(false);
      uv_timer_start(
          uv_->timer,
          [](uv_timer_t* t) {
            auto* e = static_cast<UcxEngine*>(t->data);
            e->WatchEventFds(true);
            e->Pump();
          },
          1, 0);
      return;
    }
  }
  if (busy && !uv_->idleActive) {
    uv_->idleActive = true;
    uv_idle_start(uv_->idle, [](uv_idle_t* h) { static_cast<UcxEngine*>(h->data)->Pump(); });
  } else if (!busy && uv_->idleActive) {
    uv_->idleActive = false;
    uv_idle_stop(uv_->idle);
  }
}

void UcxEngine::RequestPump() {
  if (uv_ != nullptr && !uv_->idleActive) {
    uv_->idleActive = true;
    uv_idle_start(uv_->idle, [](uv_idle_t* h) { static_cast<UcxEngine*>(h->data)->Pump(); });
  }
}

void UcxEngine::AfterPost(Worker& w) {
  if (opts_.progress == ProgressMode::kThread) {
    std::lock_guard<std::mutex> lock(w.mu);
    PushPosted(w);
  }
  KickProgress(w);
}

void UcxEngine::PushPosted(Worker& w) {
  if (opts_.progress != ProgressMode::kThread || !postProgress_) return;
  ucp_worker_progress(w.handle);
  DrainFlushed(w);
}

void UcxEngine::KickProgress(Worker& w) {
  if (opts_.progress == ProgressMode::kThread) {
    // The progress thread sets sleeping_ before its last progress-and-arm
    // round, so either it sees this post in that round or we see it asleep.
    if (sleeping_.load(std::memory_order_seq_cst)) ucp_worker_signal(w.handle);
  } else {
    RequestPump();
  }
}

void UcxEngine::ProgressOnce() {
  if (closing()) return;
  if (opts_.progress == ProgressMode::kThread) {
    // The thread owns progress; a poll from JavaScript only nudges it.
    return;
  }
  Pump();
}

void UcxEngine::ThreadMain() {
  // Named, so that its CPU time can be found (/proc/PID/task/*/comm).
  pthread_setname_np(pthread_self(), "nixl-ucx-prog");
  std::vector<pollfd> fds;
  for (auto& w : workers_) fds.push_back(pollfd{w->efd, POLLIN, 0});
  unsigned idleSpins = 0;
  std::chrono::steady_clock::time_point stuckSince{};
  while (!stop_.load()) {
    bool busy = false;
    for (auto& w : workers_) {
      std::lock_guard<std::mutex> lock(w->mu);
      unsigned n = 0;
      while (n < kBudget && ucp_worker_progress(w->handle) != 0) ++n;
      DrainFlushed(*w);
      ReapClosing(*w);
      RetryHellos(*w);
      if (n > 0 || !w->closing.empty()) busy = true;
    }
    if (busy) {
      idleSpins = 0;
      stuckSince = {};
      continue;
    }
    // Stay awake a little after activity: a sleep and wake-up costs more than
    // the next completion usually takes to arrive.
    if (idleSpins++ < kSpinRounds) {
      std::this_thread::yield();
      continue;
    }
    idleSpins = 0;
    sleeping_.store(true, std::memory_order_seq_cst);
    bool armed = true;
    bool progressed = false;
    int64_t helloRetryAt = 0;  // the sleep ends for it (RetryHellos)
    for (auto& w : workers_) {
      std::lock_guard<std::mutex> lock(w->mu);
      KeepEarliest(helloRetryAt, w->helloRetryAtNs);
      if (ucp_worker_progress(w->handle) != 0 || w->hasDeferred()) {
        DrainFlushed(*w);
        armed = false;
        progressed = true;
        continue;
      }
      if (ucp_worker_arm(w->handle) == UCS_ERR_BUSY) armed = false;
    }
    if (armed && !stop_.load()) {
      // The timeout is a safety net only; wake-ups come from the event fds
      // (and the next HELLO retry, if one is due).
      poll(fds.data(), fds.size(), static_cast<int>(MsUntil(helloRetryAt, 1000)));
      stuckSince = {};
    } else if (progressed) {
      stuckSince = {};
    } else {
      // UCX cannot be armed, yet nothing has moved for a while: sends queued
      // toward a process that exited (shared memory without error handling)
      // stay pending forever, and the event fds stay readable. Sleep instead
      // of spinning on them; a live peer never stalls this long.
      auto now = std::chrono::steady_clock::now();
      if (stuckSince == std::chrono::steady_clock::time_point{}) stuckSince = now;
      if (now - stuckSince >= kStuckFor) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    sleeping_.store(false, std::memory_order_seq_cst);
  }
}

}  // namespace nixl::ucx
