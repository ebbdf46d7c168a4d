#include "common/status_slots.h"

#include <algorithm>

namespace nixl {

Napi::Value StatusSlots::Grow(Napi::Env env) {
  if (size_ >= max_) return env.Undefined();
  // Every chunk but a last one cut short by max_ is full, so At() divides.
  uint32_t n = std::min(kChunkSlots, max_ - size_);
  std::shared_ptr<int32_t[]> mem(new int32_t[n]);
  std::fill_n(mem.get(), n, kSlotFree);
  auto* hold = new std::shared_ptr<int32_t[]>(mem);
  Napi::ArrayBuffer ab;
  try {
    ab = Napi::ArrayBuffer::New(
        env, mem.get(), size_t(n) * sizeof(int32_t),
        [](Napi::Env, void*, std::shared_ptr<int32_t[]>* h) { delete h; }, hold);
  } catch (...) {
    delete hold;
    throw;
  }
  chunks_.push_back(std::move(mem));
  size_ += n;
  return Napi::Int32Array::New(env, n, ab, 0);
}

int32_t* StatusSlots::At(uint32_t slot) const {
  if (slot >= size_) return nullptr;
  return chunks_[slot / kChunkSlots].get() + slot % kChunkSlots;
}

}  // namespace nixl
