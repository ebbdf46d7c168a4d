#include "common/completion_batch.h"

namespace nixl {
namespace {

template <typename T>
void MoveAppend(std::vector<T>& dst, std::vector<T>& src) {
  if (dst.empty()) {
    std::swap(dst, src);
  } else {
    for (auto& v : src) dst.push_back(std::move(v));
  }
  src.clear();
}

}  // namespace

void CompletionBatch::Clear() {
  settled.clear();
  notifs.clear();
  events.clear();
}

void CompletionBatch::Append(CompletionBatch& from) {
  MoveAppend(settled, from.settled);
  MoveAppend(notifs, from.notifs);
  MoveAppend(events, from.events);
}

void CompletionQueue::Take(CompletionBatch* out) {
  out->Clear();
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(*out, pending_);
  wakePending_ = false;
}

std::array<napi_value, 4> BatchToJs(Napi::Env env, const CompletionBatch& b) {
  napi_value undefined = env.Undefined();
  std::array<napi_value, 4> args{undefined, undefined, undefined, undefined};
  if (!b.settled.empty()) {
    auto pairs = Napi::Int32Array::New(env, b.settled.size() * 2);
    int32_t* p = pairs.Data();
    size_t failed = 0;
    for (const auto& s : b.settled) {
      *p++ = static_cast<int32_t>(s.slot);
      *p++ = static_cast<int32_t>(s.gen);
      if (s.status != 0) failed++;
    }
    args[0] = pairs;
    if (failed > 0) {
      Napi::Array f = Napi::Array::New(env, failed * 4);
      uint32_t i = 0;
      for (const auto& s : b.settled) {
        if (s.status == 0) continue;
        f.Set(i++, Napi::Number::New(env, s.slot));
        f.Set(i++, Napi::Number::New(env, s.gen));
        f.Set(i++, Napi::Number::New(env, s.status));
        f.Set(i++, Napi::String::New(env, s.message));
      }
      args[1] = f;
    }
  }
  if (!b.notifs.empty()) {
    Napi::Array n = Napi::Array::New(env, b.notifs.size() * 2);
    uint32_t i = 0;
    for (const auto& x : b.notifs) {
      n.Set(i++, Napi::String::New(env, x.agent));
      n.Set(i++, Napi::Buffer<uint8_t>::Copy(env, x.msg.data(), x.msg.size()));
    }
    args[2] = n;
  }
  if (!b.events.empty()) {
    Napi::Array e = Napi::Array::New(env, b.events.size() * 4);
    uint32_t i = 0;
    for (const auto& x : b.events) {
      e.Set(i++, Napi::Number::New(env, x.kind));
      e.Set(i++, Napi::Number::New(env, x.id));
      e.Set(i++, Napi::Number::New(env, x.status));
      e.Set(i++, Napi::String::New(env, x.message));
    }
    args[3] = e;
  }
  return args;
}

Napi::Value BatchToArray(Napi::Env env, const CompletionBatch& b) {
  if (b.Empty()) return env.Undefined();
  std::array<napi_value, 4> args = BatchToJs(env, b);
  Napi::Array out = Napi::Array::New(env, 4);
  for (uint32_t i = 0; i < 4; i++) out.Set(i, Napi::Value(env, args[i]));
  return out;
}

}  // namespace nixl
