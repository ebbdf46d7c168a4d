// The thread-pool runner: each thread takes a chunk and moves it with
// pread/pwrite, going on after partial results, until it is done or fails.
#include <unistd.h>

#include <cerrno>

#include "file/engine.h"

namespace nixl::file {

void Engine::RunPool() {
  Chunk c;
  while (NextChunk(&c, true)) {
    int err = 0;
    bool eof = false;
    const bool reading = c.read;
    while (c.done < c.len) {
      ssize_t n = reading ? ::pread(c.file->fd, c.mem + c.done, c.len - c.done, c.offset + c.done)
                          : ::pwrite(c.file->fd, c.mem + c.done, c.len - c.done, c.offset + c.done);
      if (n < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      if (n == 0) {
        // A read at end of file; a write of 0 bytes would loop forever.
        if (reading)
          eof = true;
        else
          err = EIO;
        break;
      }
      c.done += static_cast<uint64_t>(n);
    }
    Finish(c, err, eof);
    c = Chunk{};
  }
}

}  // namespace nixl::file
