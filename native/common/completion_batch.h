// What an engine hands JavaScript in one wake-up (one call of its thread-safe
// function): the posts that settled, with a message for each failure; the
// notifications received; and peer events. Both engines fill this one shape;
// backends/common/settle-dispatch.ts reads it.
#pragma once
#include <napi.h>

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace nixl {

struct CompletionBatch {
  struct Settled {
    uint32_t slot;        // the transfer's status slot (common/status_slots.h)
    uint32_t gen;         // which post of it settled: a stale entry never settles a repost
    int32_t status;       // 0, or a negative NIXL status
    std::string message;  // why, for a failure
  };
  struct Notif {
    std::string agent;
    std::vector<uint8_t> msg;
  };
  enum EventKind : uint32_t { kConnected = 1, kConnectFailed = 2, kDisconnected = 3 };
  struct Event {
    EventKind kind;
    uint32_t id;  // a connect request's token, or a peer's id
    int32_t status;
    std::string message;
  };

  std::vector<Settled> settled;
  std::vector<Notif> notifs;
  std::vector<Event> events;

  bool Empty() const { return settled.empty() && notifs.empty() && events.empty(); }
  void Clear();
  // Moves everything of `from` to the end of this batch; `from` is left empty.
  void Append(CompletionBatch& from);
};

// An engine's pending batch: its threads add to it, the JavaScript thread
// takes it. One wake-up per batch: `wake` runs when something is added to a
// batch that has no wake-up pending, and not again until the batch is taken.
class CompletionQueue {
 public:
  explicit CompletionQueue(std::function<void()> wake) : wake_(std::move(wake)) {}

  // Any thread: moves `staged` into the pending batch (nothing if it is empty).
  void Publish(CompletionBatch& staged) {
    if (!staged.Empty()) Add([&](CompletionBatch& b) { b.Append(staged); });
  }
  // Any thread: `add(batch)` fills the pending batch under the queue's lock.
  // With nothing added it still wakes JavaScript, if no wake-up is pending.
  template <typename F>
  void Add(F&& add) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      add(pending_);
      wake = !wakePending_;
      wakePending_ = true;
    }
    if (wake && wake_) wake_();
  }
  // JavaScript thread: swaps the pending batch into `out` (cleared first, so
  // its storage is reused).
  void Take(CompletionBatch* out);

 private:
  std::mutex mu_;
  CompletionBatch pending_;
  bool wakePending_ = false;
  std::function<void()> wake_;
};

// A batch as the JavaScript callback's arguments, each undefined when empty:
//   settled:  Int32Array of (slot, gen) pairs, every post that settled;
//   failures: [slot, gen, status, message, ...] for those that failed;
//   notifs:   [agent, Buffer, ...];
//   events:   [kind, id, status, message, ...].
std::array<napi_value, 4> BatchToJs(Napi::Env env, const CompletionBatch& b);

// The same four values in one array (undefined for an empty batch): what an
// engine's takeBatch() returns when JavaScript asks for the batch at once.
Napi::Value BatchToArray(Napi::Env env, const CompletionBatch& b);

}  // namespace nixl
