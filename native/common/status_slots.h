// The status slots of one engine: one int32 per prepared transfer, shared
// with JavaScript, which polls a transfer without calling into native code
// (backends/common/status-slots.ts is the other half).
//
// The protocol, the same for every engine:
//  - A slot is free (kSlotFree) when no transfer holds it; new chunks start free.
//  - JavaScript hands a free slot to a new transfer, writes ERR_NOT_POSTED when
//    the engine accepted the transfer, and IN_PROG before each post.
//  - The engine writes a post's final status (0 or a negative NIXL status)
//    with release order, so JavaScript that reads it also sees the bytes moved.
//  - When the transfer is released, the engine writes kSlotFree once nothing
//    of that transfer will write the slot again. JavaScript reuses a slot only
//    after it read kSlotFree, so a released transfer can never settle into
//    the slot of the one after it.
//
// The table grows by chunks on the JavaScript thread. Each chunk's memory is
// owned jointly by the table and by the Int32Array JavaScript reads it
// through: engine threads write it while the table lives (until the engine's
// threads are gone), JavaScript reads it while it holds the array.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace nixl {

// No transfer holds the slot: JavaScript may hand it to a new one.
inline constexpr int32_t kSlotFree = -1000;

class StatusSlots {
 public:
  static constexpr uint32_t kChunkSlots = 1024;

  explicit StatusSlots(uint32_t maxSlots) : max_(maxSlots) {}
  StatusSlots(const StatusSlots&) = delete;
  StatusSlots& operator=(const StatusSlots&) = delete;

  // JavaScript thread: the next chunk of slots (numbered on from size()), all
  // free, as an Int32Array; undefined once the table holds maxSlots.
  Napi::Value Grow(Napi::Env env);
  // JavaScript thread: where slot `slot` lives, or nullptr if there is no such slot.
  int32_t* At(uint32_t slot) const;
  uint32_t size() const { return size_; }

  // Any thread: publishes a status with release order.
  static void Store(int32_t* slot, int32_t status) {
    __atomic_store_n(slot, status, __ATOMIC_RELEASE);
  }

 private:
  std::vector<std::shared_ptr<int32_t[]>> chunks_;
  uint32_t size_ = 0;
  uint32_t max_;
};

}  // namespace nixl
