// Who a process is on its host, precisely enough to watch it from another
// process: the kernel's boot id and pid namespace say whether a peer's pid
// means the same process here, and its start time tells it apart from a later
// process that got the same pid. A same-host peer is then watched through a
// pidfd, which becomes readable the moment the process exits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nixl::ucx {

struct ProcessIdentity {
  std::string bootId;  // /proc/sys/kernel/random/boot_id
  uint64_t pidNsDev = 0;
  uint64_t pidNsIno = 0;  // stat("/proc/self/ns/pid")
  uint32_t pid = 0;
  uint64_t startTime = 0;  // /proc/<pid>/stat field 22, clock ticks after boot

  static ProcessIdentity Self();
  bool Known() const { return !bootId.empty() && pid != 0; }
  // Same kernel and pid namespace: our pid numbers name the same processes.
  bool SameNamespaceAs(const ProcessIdentity& o) const;

  void Encode(std::vector<uint8_t>* out) const;
  // Reads what Encode wrote at p[0..len); false if malformed.
  bool Decode(const uint8_t* p, size_t len);
};

// A pidfd for the process `id` names, opened only if it is still that
// process. Returns the fd; -1 if that process has exited (or its pid now
// belongs to another); -2 if pidfds are unavailable here.
int OpenProcessWatch(const ProcessIdentity& id);
// Whether the process of a pidfd from OpenProcessWatch has exited (without waiting).
bool ProcessExited(int pidfd);

}  // namespace nixl::ucx
