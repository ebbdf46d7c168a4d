#include "ucx/process_identity.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nixl::ucx {
namespace {

// Field 22 of /proc/<pid>/stat, read after the command name's closing ')',
// which may itself contain spaces and parentheses. 0 if unreadable.
uint64_t StartTimeOf(uint32_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Fields 3..21 come before the start time.
  for (int i = 3; i <= 21; ++i) rest >> field;
  uint64_t start = 0;
  rest >> start;
  return start;
}

void PutU64(std::vector<uint8_t>* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

constexpr size_t kBootIdLen = 36;  // a UUID in text form
constexpr size_t kEncodedLen = kBootIdLen + 8 + 8 + 4 + 8;

}  // namespace

ProcessIdentity ProcessIdentity::Self() {
  ProcessIdentity id;
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string b;
  if (std::getline(boot, b) && b.size() == kBootIdLen) id.bootId = b;
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) == 0) {
    id.pidNsDev = static_cast<uint64_t>(st.st_dev);
    id.pidNsIno = static_cast<uint64_t>(st.st_ino);
  }
  id.pid = static_cast<uint32_t>(getpid());
  id.startTime = StartTimeOf(id.pid);
  if (id.startTime == 0 || id.pidNsIno == 0) id.bootId.clear();  // not watchable
  return id;
}

bool ProcessIdentity::SameNamespaceAs(const ProcessIdentity& o) const {
  return Known() && o.Known() && bootId == o.bootId && pidNsDev == o.pidNsDev &&
         pidNsIno == o.pidNsIno;
}

void ProcessIdentity::Encode(std::vector<uint8_t>* out) const {
  std::string b = bootId;
  b.resize(kBootIdLen, '\0');
  out->insert(out->end(), b.begin(), b.end());
  PutU64(out, pidNsDev);
  PutU64(out, pidNsIno);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(pid >> (8 * i)));
  PutU64(out, startTime);
}

bool ProcessIdentity::Decode(const uint8_t* p, size_t len) {
  if (len != kEncodedLen) return false;
  bootId.assign(reinterpret_cast<const char*>(p), kBootIdLen);
  if (bootId.find('\0') != std::string::npos) bootId.clear();
  pidNsDev = GetU64(p + kBootIdLen);
  pidNsIno = GetU64(p + kBootIdLen + 8);
  pid = 0;
  for (int i = 0; i < 4; ++i) pid |= static_cast<uint32_t>(p[kBootIdLen + 16 + i]) << (8 * i);
  startTime = GetU64(p + kBootIdLen + 20);
  return true;
}

int OpenProcessWatch(const ProcessIdentity& id) {
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(id.pid), 0));
  if (fd < 0) return errno == ESRCH ? -1 : -2;
  // Checked after opening: the pidfd now pins whichever process has the pid,
  // so a matching start time means it is the peer (and it was alive).
  if (StartTimeOf(id.pid) != id.startTime) {
    close(fd);
    return -1;
  }
  return fd;
#else
  (void)id;
  return -2;
#endif
}

}  // namespace nixl::ucx
