#include "tcp/vm_copy.h"

#include <algorithm>
#include <cstring>

namespace nixl::tcp {
namespace {

// Below this a second thread costs more (a wake-up, ~10-20 us) than it saves.
constexpr uint64_t kParallelMinBytes = 1ull << 20;
constexpr uint64_t kMinShareBytes = 512ull << 10;

void Advance(iovec* v, size_t count, size_t* at, uint64_t bytes) {
  while (bytes > 0 && *at < count) {
    uint64_t step = std::min<uint64_t>(bytes, v[*at].iov_len);
    v[*at].iov_base = static_cast<uint8_t*>(v[*at].iov_base) + step;
    v[*at].iov_len -= step;
    bytes -= step;
    if (v[*at].iov_len == 0) ++*at;
  }
}

}  // namespace

bool VmCopy(pid_t pid, bool fromRemote, iovec* local, iovec* remote, size_t count) {
  if (pid == 0) {
    for (size_t i = 0; i < count; i++) {
      if (fromRemote) {
        std::memcpy(local[i].iov_base, remote[i].iov_base, local[i].iov_len);
      } else {
        std::memcpy(remote[i].iov_base, local[i].iov_base, local[i].iov_len);
      }
    }
    return true;
  }
  uint64_t total = 0;
  for (size_t i = 0; i < count; i++) total += local[i].iov_len;
  size_t li = 0, ri = 0;
  while (total > 0) {
    ssize_t r = fromRemote
                    ? process_vm_readv(pid, local + li, count - li, remote + ri, count - ri, 0)
                    : process_vm_writev(pid, local + li, count - li, remote + ri, count - ri, 0);
    if (r <= 0) return false;
    total -= static_cast<uint64_t>(r);
    // A partial copy stops at a page the kernel could not pin; go on after it.
    Advance(local, count, &li, static_cast<uint64_t>(r));
    Advance(remote, count, &ri, static_cast<uint64_t>(r));
  }
  return true;
}

VmCopyPool::~VmCopyPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  for (auto& t : helpers_) t.join();
}

bool VmCopyPool::Copy(pid_t pid, bool fromRemote, iovec* local, iovec* remote, size_t count,
                      uint64_t total) {
  unsigned shares = static_cast<unsigned>(
      std::min<uint64_t>(threads_, std::max<uint64_t>(1, total / kMinShareBytes)));
  if (total < kParallelMinBytes || shares < 2) return VmCopy(pid, fromRemote, local, remote, count);

  // Cut the lists into `shares` runs of about equal bytes; local[i] and
  // remote[i] have the same length, so one cut point serves both.
  std::vector<Share> cut(shares);
  uint64_t per = (total + shares - 1) / shares;
  unsigned s = 0;
  uint64_t inShare = 0;
  for (size_t i = 0; i < count; i++) {
    uint64_t off = 0;
    uint64_t len = local[i].iov_len;
    while (off < len) {
      uint64_t take = std::min(len - off, s + 1 < shares ? per - inShare : len - off);
      cut[s].local.push_back({static_cast<uint8_t*>(local[i].iov_base) + off, take});
      cut[s].remote.push_back({static_cast<uint8_t*>(remote[i].iov_base) + off, take});
      off += take;
      inShare += take;
      if (inShare == per && s + 1 < shares) {
        s++;
        inShare = 0;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (helpers_.size() + 1 < threads_) helpers_.emplace_back([this] { HelperMain(); });
    pid_ = pid;
    fromRemote_ = fromRemote;
    failed_ = false;
    outstanding_ = shares - 1;
    for (unsigned i = 1; i < shares; i++) queue_.push_back(std::move(cut[i]));
  }
  work_.notify_all();
  bool ok = VmCopy(pid, fromRemote, cut[0].local.data(), cut[0].remote.data(), cut[0].local.size());
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return outstanding_ == 0; });
  return ok && !failed_;
}

void VmCopyPool::HelperMain() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Share share = std::move(queue_.back());
    queue_.pop_back();
    pid_t pid = pid_;
    bool fromRemote = fromRemote_;
    lock.unlock();
    bool ok = VmCopy(pid, fromRemote, share.local.data(), share.remote.data(), share.local.size());
    lock.lock();
    if (!ok) failed_ = true;
    if (--outstanding_ == 0) done_.notify_one();
  }
}

}  // namespace nixl::tcp
