// Cross-process copies for the same-host path: process_vm_readv/writev over
// matching iovec lists, optionally split across threads.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace nixl::tcp {

// Copies local[i] <-> remote[i] (equal lengths) with process `pid`, until every
// byte moved. fromRemote: remote -> local (readv), else local -> remote.
// Returns false when the kernel refused (the peer is gone or the range unmapped).
// pid 0: both sides are in this process (a shared-memory mapping): memcpy.
bool VmCopy(pid_t pid, bool fromRemote, iovec* local, iovec* remote, size_t count);

// Splits one large copy across `threads` threads (the caller plus helpers started
// on first use): one core copying alone reaches about half of what two reach,
// and the target's I/O thread would otherwise be the only one copying.
class VmCopyPool {
 public:
  explicit VmCopyPool(unsigned threads) : threads_(threads < 1 ? 1 : threads) {}
  ~VmCopyPool();
  VmCopyPool(const VmCopyPool&) = delete;
  VmCopyPool& operator=(const VmCopyPool&) = delete;

  // Same contract as VmCopy; `total` is the sum of the lengths.
  bool Copy(pid_t pid, bool fromRemote, iovec* local, iovec* remote, size_t count, uint64_t total);

 private:
  struct Share {
    std::vector<iovec> local;
    std::vector<iovec> remote;
  };
  void HelperMain();

  unsigned threads_;
  std::vector<std::thread> helpers_;
  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::vector<Share> queue_;
  pid_t pid_ = 0;
  bool fromRemote_ = false;
  unsigned outstanding_ = 0;
  bool failed_ = false;
  bool stop_ = false;
};

}  // namespace nixl::tcp
