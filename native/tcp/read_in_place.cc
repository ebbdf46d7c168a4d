// A READ's answer of 64 KiB or more received straight into place with one
// scattered recvmsg (header, payload, trailer), instead of a recv of the
// header alone, one of the payload and one of the trailer.
#include "tcp/engine_internal.h"

namespace nixl::tcp {

// Only answers of kDirectRecvMin or more: a smaller one already comes in one
// recv into rbuf, and its copy out costs 0.05 µs for 4 KiB here; received in
// place, 4 KiB READs took 0.5 µs longer (6 of 6 pairs, bench/cli/results/
// 2026-12-busy-poll-3/), likely the recvmsg of four pieces on every look.
// The only bytes this connection can carry now are the answer to its one READ:
// no other READ, no ACK due (a refused WRITE's ERR comes before its stream's
// ACK), and no same-host frames (a target sends SHM_UNMAP when it likes). The
// answer must fit rbuf, where its bytes go if they turn out not to be it.
bool Engine::ReadsInPlace(const Conn* c) {
  if (!c->outgoing || c->state != Conn::kReady || c->cma || c->viaUnix || c->inPayload ||
      c->rpos != c->rend || c->reads.size() != 1 || !c->cmaReads.empty() || c->answersDue != 0) {
    return false;
  }
  const Conn::PendingRead& r = c->reads.front();
  return r.len >= kDirectRecvMin && r.len <= c->rbuf.size() - kHeaderSize - 4 &&
         FindXfer(r.xferId) != nullptr;
}

// Receives what is there of the answer: the header into rbuf, the payload
// into the READ's destination, the trailer into c->trailer. The payload's
// first kInPlaceStash bytes go to a stash, so a refused answer (a header and
// a 4-byte trailer, nothing else behind it) leaves the destination untouched.
// Any other header puts every byte back in stream order in rbuf, for the
// usual parsing. *got: bytes received, 0 when the socket would block. Returns
// false when the connection must close.
bool Engine::RecvReadInPlace(Conn* c, ssize_t* got) {
  const Conn::PendingRead r = c->reads.front();
  uint8_t* dst = reinterpret_cast<uint8_t*>(r.laddr);
  uint8_t stash[kInPlaceStash];
  iovec v[4] = {{c->rbuf.data(), kHeaderSize},
                {stash, kInPlaceStash},
                {dst + kInPlaceStash, r.len - kInPlaceStash},
                {c->trailer, 4}};
  msghdr m{};
  m.msg_iov = v;
  m.msg_iovlen = 4;
  ssize_t n = recvmsg(c->fd, &m, 0);
  *got = 0;
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  *got = n;
  if (c->peer) c->peer->lastProgressNs = NowNs();
  const size_t bytes = static_cast<size_t>(n);
  FrameHeader h;
  std::memcpy(&h, c->rbuf.data(), kHeaderSize);
  const bool answer = bytes >= kHeaderSize && h.magic == kMagic && h.op == kReadData &&
                      h.xferId == r.xferId && h.status == kSuccess && h.len == r.len;
  if (!answer) {
    // Stream order in rbuf: the header part is there; then the stash, the
    // destination's part and the trailer's.
    size_t at = std::min(bytes, kHeaderSize);
    for (size_t i = 1; i < 4 && at < bytes; i++) {
      size_t take = std::min(bytes - at, v[i].iov_len);
      std::memmove(c->rbuf.data() + at, v[i].iov_base, take);
      at += take;
    }
    c->rpos = 0;
    c->rend = bytes;
    return true;
  }
  c->cur = h;
  if (!OnHeader(c)) return false;  // a kMemSink into dst, expecting r.len bytes
  const size_t payload = std::min<size_t>(bytes - kHeaderSize, r.len);
  std::memcpy(dst, stash, std::min(payload, kInPlaceStash));
  c->dst += payload;
  c->remaining -= payload;
  if (c->remaining > 0) return true;    // the rest comes by the usual reads
  if (!OnPayloadDone(c)) return false;  // now expecting the trailer
  const size_t trailer = bytes - kHeaderSize - payload;
  c->trailerGot = trailer;
  c->remaining -= trailer;
  return c->remaining > 0 || OnPayloadDone(c);
}

}  // namespace nixl::tcp
