#include "ucx/am_auth.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/crypto.h"
#include "ucx/wire.h"

namespace nixl::ucx {
namespace {

constexpr char kHelloLabel[] = "nixl-ucx-v5 hello";
constexpr char kKeyLabel[] = "nixl-ucx-v5 key";
constexpr char kAmLabel[] = "nixl-ucx-v5 am";

// Bounds on what senders can make the target keep (DESIGN rule 8).
constexpr size_t kMaxBindings = 4096;  // names; past it, new first-use names are refused
constexpr size_t kMaxSessions = 16;    // per name (one per sender endpoint); lowest stamp dropped
constexpr size_t kMaxRetired = 4;      // earlier keys of a name whose stamp floor is kept
constexpr size_t kMaxPending = 64;     // HELLOs waiting for metadata; oldest dropped
constexpr size_t kMaxName = 4096;

// The crypto of first-use HELLOs (about 0.2 ms each): at most kHelloBurst at
// once, kHellosPerSecond on average, i.e. at most about 2.5 % of the progress
// thread once the burst is spent.
constexpr double kHelloBurst = 256;
constexpr double kHellosPerSecond = 128;
// The same for HELLOs under a loaded name with its key: per name (an agent
// remakes its endpoints at most so often), and all loaded names together.
constexpr double kNameHelloBurst = 64;
constexpr double kNameHellosPerSecond = 64;
constexpr double kLoadedHelloBurst = 256;
constexpr double kLoadedHellosPerSecond = 256;
// Answers to refused HELLOs: 30 bytes each, smaller than the HELLO, and at
// most this many (a refused sender that gets none retries on its own).
constexpr double kAnswerBurst = 64;
constexpr double kAnswersPerSecond = 64;
// What a refusal that no bucket explains tells the sender to wait.
constexpr uint32_t kRetryAfterMs = 1000;

// HELLO answer: u8 version | u64 session | u8 verdict | u32 retryAfterMs | mac[16]
constexpr uint8_t kAccepted = 1;
constexpr uint8_t kRefused = 2;
// Accepted, and the target holds its own endpoints to the sender (wire.h).
constexpr uint8_t kAcceptedAcksOnTargetEndpoint = 3;
constexpr size_t kAnswerSigned = 1 + 8 + 1 + 4;
constexpr size_t kAnswerSize = kAnswerSigned + kMacSize;
// HELLO query: u8 version | u64 session | zero[23] | name (never smaller than its answer)
constexpr size_t kQueryFixed = 32;

// HELLO body: u8 version | identity[32] | E[32] | u64 stamp | signature[64] | name
constexpr size_t kHelloStampAt = 1 + 2 * kKeySize;
constexpr size_t kHelloSigAt = kHelloStampAt + 8;
constexpr size_t kHelloFixed = kHelloSigAt + crypto::kSignatureSize;
constexpr size_t kTagSize = 1 + 8 + 8 + kMacSize;

void PutU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }  // little-endian hosts
uint64_t GetU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// What the HELLO's signature covers, and what K is derived for.
std::vector<uint8_t> HelloTranscript(const char* label, const uint8_t targetExchange[kKeySize],
                                     const uint8_t ephemeral[kKeySize],
                                     const uint8_t identity[kKeySize], uint64_t stamp,
                                     std::string_view name) {
  std::vector<uint8_t> t(label, label + std::strlen(label));
  t.insert(t.end(), targetExchange, targetExchange + kKeySize);
  t.insert(t.end(), ephemeral, ephemeral + kKeySize);
  t.insert(t.end(), identity, identity + kKeySize);
  uint8_t s[8];
  PutU64(s, stamp);
  t.insert(t.end(), s, s + 8);
  t.insert(t.end(), name.begin(), name.end());
  return t;
}

bool DeriveKey(const uint8_t shared[kKeySize], const uint8_t targetExchange[kKeySize],
               const uint8_t ephemeral[kKeySize], const uint8_t identity[kKeySize], uint64_t stamp,
               std::string_view name, uint8_t key[kKeySize]) {
  std::vector<uint8_t> info = HelloTranscript("", targetExchange, ephemeral, identity, stamp, name);
  return crypto::HkdfSha256(reinterpret_cast<const uint8_t*>(kKeyLabel), std::strlen(kKeyLabel),
                            shared, kKeySize, info.data(), info.size(), key, kKeySize);
}

void ComputeMac(unsigned amId, crypto::HmacSha256Key& mac, uint64_t session, uint64_t seq,
                std::string_view from, std::string_view to, const uint8_t* body, size_t len,
                uint8_t out[kMacSize]) {
  uint8_t fixed[4 + 8 + 8];
  uint32_t id = amId;
  std::memcpy(fixed, &id, 4);
  PutU64(fixed + 4, session);
  PutU64(fixed + 12, seq);
  uint16_t fromLen = static_cast<uint16_t>(from.size());
  uint16_t toLen = static_cast<uint16_t>(to.size());
  uint8_t digest[crypto::kDigestSize];
  mac.Begin()
      .Add(kAmLabel, sizeof(kAmLabel) - 1)
      .Add(fixed, sizeof(fixed))
      .Add(&fromLen, 2)
      .Add(from.data(), from.size())
      .Add(&toLen, 2)
      .Add(to.data(), to.size())
      .Add(body, len)
      .Finish(digest);
  std::memcpy(out, digest, kMacSize);
}

// The authentication tag at the front of an active message's header.
struct AmTag {
  uint64_t session = 0;
  uint64_t seq = 0;
  uint8_t mac[kMacSize] = {};
};

// Splits a header into its tag and the sender's name; false if malformed.
bool ParseHeader(const void* header, size_t len, AmTag* tag, std::string_view* from) {
  const auto* h = static_cast<const uint8_t*>(header);
  if (len <= kTagSize || len - kTagSize > kMaxName || h[0] != kAuthVersion) return false;
  tag->session = GetU64(h + 1);
  tag->seq = GetU64(h + 9);
  std::memcpy(tag->mac, h + 17, kMacSize);
  *from = std::string_view(reinterpret_cast<const char*>(h + kTagSize), len - kTagSize);
  return true;
}

// Whether `tag` is a valid MAC under `mac`'s key (constant-time comparison).
bool CheckMac(unsigned amId, crypto::HmacSha256Key& mac, const AmTag& tag, std::string_view from,
              std::string_view to, const uint8_t* body, size_t len) {
  uint8_t want[kMacSize];
  ComputeMac(amId, mac, tag.session, tag.seq, from, to, body, len, want);
  return crypto::ConstantTimeEqual(want, tag.mac, kMacSize);
}

// header = tag | `from`, under `mac` with the given session and sequence number.
void TagWith(unsigned amId, crypto::HmacSha256Key& mac, uint64_t sessionId, uint64_t seq,
             std::string_view from, std::string_view to, const uint8_t* body, size_t len,
             std::vector<uint8_t>* header) {
  header->resize(kTagSize + from.size());
  uint8_t* h = header->data();
  h[0] = kAuthVersion;
  PutU64(h + 1, sessionId);
  PutU64(h + 9, seq);
  ComputeMac(amId, mac, sessionId, seq, from, to, body, len, h + 17);
  std::memcpy(h + kTagSize, from.data(), from.size());
}

// A HELLO body's fields (views into it).
struct HelloFields {
  const uint8_t* identity = nullptr;
  const uint8_t* ephemeral = nullptr;
  uint64_t stamp = 0;
  const uint8_t* signature = nullptr;
  std::string_view name;
  uint64_t session() const { return GetU64(ephemeral); }
};

// False if malformed (no crypto).
bool ParseHello(const uint8_t* body, size_t len, HelloFields* h) {
  if (len <= kHelloFixed || len - kHelloFixed > kMaxName || body[0] != kAuthVersion) return false;
  h->identity = body + 1;
  h->ephemeral = body + 1 + kKeySize;
  h->stamp = GetU64(body + kHelloStampAt);
  h->signature = body + kHelloSigAt;
  h->name = std::string_view(reinterpret_cast<const char*>(body + kHelloFixed), len - kHelloFixed);
  return true;
}

// The crypto (about 0.2 ms): the signature, then the session key. False if
// the HELLO does not check out.
bool OpenHello(const AgentKeys& keys, const HelloFields& h, uint8_t key[kKeySize]) {
  std::vector<uint8_t> t =
      HelloTranscript(kHelloLabel, keys.exchangePublic, h.ephemeral, h.identity, h.stamp, h.name);
  uint8_t shared[kKeySize];
  return crypto::Ed25519Verify(h.identity, t.data(), t.size(), h.signature) &&
         crypto::X25519(keys.exchangePrivate, h.ephemeral, shared) &&
         DeriveKey(shared, keys.exchangePublic, h.ephemeral, h.identity, h.stamp, h.name, key);
}

std::vector<uint8_t> AnswerBody(uint64_t session, uint8_t verdict, uint32_t retryAfterMs) {
  std::vector<uint8_t> a(kAnswerSize, 0);
  a[0] = kAuthVersion;
  PutU64(&a[1], session);
  a[9] = verdict;
  std::memcpy(&a[10], &retryAfterMs, 4);
  return a;
}

}  // namespace

std::vector<uint8_t> MakeHelloQuery(uint64_t session, const std::string& selfName) {
  std::vector<uint8_t> q(kQueryFixed + selfName.size(), 0);
  q[0] = kAuthVersion;
  PutU64(&q[1], session);
  std::memcpy(&q[kQueryFixed], selfName.data(), selfName.size());
  return q;
}

bool HelloSender(const uint8_t* body, size_t len, std::string_view* name) {
  HelloFields h;
  if (!ParseHello(body, len, &h)) return false;
  *name = h.name;
  return true;
}

bool HelloQuerySender(const uint8_t* body, size_t len, std::string_view* name) {
  if (len <= kQueryFixed || len - kQueryFixed > kMaxName || body[0] != kAuthVersion) return false;
  *name = std::string_view(reinterpret_cast<const char*>(body + kQueryFixed), len - kQueryFixed);
  return true;
}

bool HelloAnswerSession(const uint8_t* body, size_t len, uint64_t* session) {
  if (len != kAnswerSize || body[0] != kAuthVersion) return false;
  *session = GetU64(body + 1);
  return true;
}

bool ReadHelloAnswer(SendSession* session, std::string_view peer, std::string_view self,
                     const uint8_t* body, size_t len, bool* accepted, uint32_t* retryAfterMs) {
  uint64_t id = 0;
  if (!HelloAnswerSession(body, len, &id) || !session->ready || id != session->id) return false;
  if (body[9] == kRefused) {
    *accepted = false;
    std::memcpy(retryAfterMs, body + 10, 4);
    return true;
  }
  if (body[9] != kAccepted && body[9] != kAcceptedAcksOnTargetEndpoint) return false;
  uint8_t want[kMacSize];
  ComputeMac(kAmHelloAnswer, session->mac, id, 0, peer, self, body, kAnswerSigned, want);
  if (!crypto::ConstantTimeEqual(want, body + kAnswerSigned, kMacSize)) return false;
  *accepted = true;
  session->acksOnTargetEndpoint = body[9] == kAcceptedAcksOnTargetEndpoint;
  return true;
}

bool TokenBucket::Take(double burst, double perSecond, int64_t nowNs) {
  tokens = atNs == 0 ? burst : std::min(burst, tokens + (nowNs - atNs) * 1e-9 * perSecond);
  atNs = nowNs;
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

uint32_t TokenBucket::MsToNext(double perSecond) const {
  if (tokens >= 1) return 0;
  return static_cast<uint32_t>(std::max(1.0, (1 - tokens) / perSecond * 1000));
}

uint64_t FirstHelloStamp() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

AgentKeys AgentKeys::Generate() {
  AgentKeys k;
  crypto::RandomBytes(k.identitySeed, kKeySize);
  crypto::RandomBytes(k.exchangePrivate, kKeySize);
  if (!crypto::Ed25519PublicKey(k.identitySeed, k.identityPublic) ||
      !crypto::X25519PublicKey(k.exchangePrivate, k.exchangePublic)) {
    throw std::runtime_error("generating the UCX engine's keys failed");
  }
  return k;
}

std::vector<uint8_t> MakeHello(const AgentKeys& self, const std::string& selfName,
                               const uint8_t targetExchange[kKeySize], uint64_t stamp,
                               SendSession* session) {
  uint8_t ephemeralPrivate[kKeySize], ephemeral[kKeySize], shared[kKeySize], key[kKeySize];
  crypto::RandomBytes(ephemeralPrivate, kKeySize);
  std::vector<uint8_t> hello(kHelloFixed + selfName.size());
  hello[0] = kAuthVersion;
  std::memcpy(&hello[1], self.identityPublic, kKeySize);
  if (!crypto::X25519PublicKey(ephemeralPrivate, ephemeral) ||
      !crypto::X25519(ephemeralPrivate, targetExchange, shared) ||
      !DeriveKey(shared, targetExchange, ephemeral, self.identityPublic, stamp, selfName, key)) {
    throw std::runtime_error("the UCX session key exchange failed");
  }
  std::memcpy(&hello[1 + kKeySize], ephemeral, kKeySize);
  PutU64(&hello[kHelloStampAt], stamp);
  std::vector<uint8_t> t =
      HelloTranscript(kHelloLabel, targetExchange, ephemeral, self.identityPublic, stamp, selfName);
  if (!crypto::Ed25519Sign(self.identitySeed, t.data(), t.size(), &hello[kHelloSigAt])) {
    throw std::runtime_error("signing the UCX HELLO failed");
  }
  std::memcpy(&hello[kHelloFixed], selfName.data(), selfName.size());
  session->mac = crypto::HmacSha256Key(key, kKeySize);
  session->id = GetU64(ephemeral);
  session->nextSeq = 1;
  session->lastAckSeq = 0;
  session->acksOnTargetEndpoint = false;
  session->ready = true;
  return hello;
}

void TagHeader(unsigned amId, SendSession* session, const std::string& from, std::string_view to,
               const uint8_t* body, size_t len, std::vector<uint8_t>* header) {
  TagWith(amId, session->mac, session->id, session->nextSeq++, from, to, body, len, header);
}

bool VerifyAnswer(unsigned amId, SendSession* session, const void* header, size_t headerLen,
                  std::string_view peer, std::string_view self, const uint8_t* body, size_t len) {
  AmTag tag;
  std::string_view from;
  if (!ParseHeader(header, headerLen, &tag, &from) || from != peer || !session->ready ||
      tag.session != session->id || tag.seq <= session->lastAckSeq ||
      !CheckMac(amId, session->mac, tag, from, self, body, len)) {
    return false;
  }
  session->lastAckSeq = tag.seq;
  return true;
}

AmAuthority::AmAuthority(std::string selfName, const AgentKeys& keys)
    : selfName_(std::move(selfName)), keys_(keys) {}

bool AmAuthority::Binding::Stale(uint64_t stamp, uint64_t id) const {
  if (stamp <= floor) return true;
  for (const Session& s : sessions) {
    if (s.stamp == stamp || s.id == id) return true;
  }
  return false;
}

bool AmAuthority::Binding::Add(Session&& s) {
  uint64_t stamp = s.stamp;
  sessions.push_back(std::move(s));
  if (sessions.size() <= kMaxSessions) return true;
  // Drop the lowest stamp; the floor then refuses its HELLO for good.
  auto low = std::min_element(sessions.begin(), sessions.end(),
                              [](const Session& a, const Session& b) { return a.stamp < b.stamp; });
  floor = std::max(floor, low->stamp);
  sessions.erase(low);
  return stamp > floor;
}

void AmAuthority::Binding::Rebind(const uint8_t to[kKeySize]) {
  // The stamps the old key reached stay refused should that key come back.
  Retired old;
  std::memcpy(old.identity, identity, kKeySize);
  old.floor = floor;
  for (const Session& s : sessions) old.floor = std::max(old.floor, s.stamp);
  sessions.clear();
  floor = 0;
  for (auto r = retired.begin(); r != retired.end(); ++r) {
    if (std::memcmp(r->identity, to, kKeySize) == 0) {
      floor = r->floor;
      retired.erase(r);
      break;
    }
  }
  retired.push_back(old);
  if (retired.size() > kMaxRetired) retired.pop_front();
  std::memcpy(identity, to, kKeySize);
}

bool AmAuthority::TakeToken(Binding* loaded) {
  int64_t now = MonotonicNs();
  if (loaded == nullptr) return firstUse_.Take(kHelloBurst, kHellosPerSecond, now);
  return loaded->hellos.Take(kNameHelloBurst, kNameHellosPerSecond, now) &&
         loaded_.Take(kLoadedHelloBurst, kLoadedHellosPerSecond, now);
}

bool AmAuthority::OnHelloQuery(const uint8_t* body, size_t len, std::vector<uint8_t>* answer,
                               bool holdsEndpoints) {
  if (len <= kQueryFixed || len - kQueryFixed > kMaxName || body[0] != kAuthVersion) return false;
  const uint64_t id = GetU64(body + 1);
  std::string_view name(reinterpret_cast<const char*>(body + kQueryFixed), len - kQueryFixed);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bindings_.find(name);
  if (it != bindings_.end()) {
    for (Session& s : it->second.sessions) {
      if (s.id != id) continue;
      // Accepted: said under the session's key, so that only this agent can say it.
      *answer = AnswerBody(id, holdsEndpoints ? kAcceptedAcksOnTargetEndpoint : kAccepted, 0);
      ComputeMac(kAmHelloAnswer, s.mac, id, 0, selfName_, name, answer->data(), kAnswerSigned,
                 answer->data() + kAnswerSigned);
      return true;
    }
  }
  // Not open (refused, or a session long gone): "retry", within the answers' budget.
  if (!answers_.Take(kAnswerBurst, kAnswersPerSecond, MonotonicNs())) return false;
  uint32_t retryAfterMs = kRetryAfterMs;
  if (it == bindings_.end() || !it->second.fromMetadata) {
    retryAfterMs = firstUse_.MsToNext(kHellosPerSecond);
  } else if (it->second.hellos.tokens < 1) {
    retryAfterMs = it->second.hellos.MsToNext(kNameHellosPerSecond);
  } else {
    retryAfterMs = loaded_.MsToNext(kLoadedHellosPerSecond);
  }
  counters_.hellosAnswered++;
  *answer = AnswerBody(id, kRefused, retryAfterMs);
  return true;
}

std::vector<std::vector<uint8_t>> AmAuthority::AcceptancesFor(std::string_view name) {
  std::vector<std::vector<uint8_t>> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bindings_.find(name);
  if (it == bindings_.end()) return out;
  for (Session& s : it->second.sessions) {
    std::vector<uint8_t> a = AnswerBody(s.id, kAcceptedAcksOnTargetEndpoint, 0);
    ComputeMac(kAmHelloAnswer, s.mac, s.id, 0, selfName_, name, a.data(), kAnswerSigned,
               a.data() + kAnswerSigned);
    out.push_back(std::move(a));
  }
  return out;
}

bool AmAuthority::OnHello(const uint8_t* body, size_t len, std::vector<uint8_t>* answer,
                          bool holdsEndpoints) {
  // An empty HELLO: an endpoint's handshake (UcxEngine::SendHandshake).
  if (len == 0) return false;
  HelloFields h;
  // The cheap checks, under the lock; the crypto after them, outside it.
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Nobody else speaks under this agent's name: its own messages never cross the wire.
    if (!ParseHello(body, len, &h) || h.name == selfName_) {
      counters_.hellosRefused++;
      return false;
    }
    auto it = bindings_.find(h.name);
    Binding* loaded = nullptr;
    if (it == bindings_.end()) {
      if (bindings_.size() >= kMaxBindings) {
        counters_.hellosRefused++;
        return false;
      }
    } else {
      Binding& b = it->second;
      if (std::memcmp(b.identity, h.identity, kKeySize) != 0) {
        // Bound to another key: kept, unverified, in case metadata with this key comes.
        counters_.hellosRefused++;
        if (pending_.size() >= kMaxPending) pending_.pop_front();
        pending_.push_back(Pending{std::string(h.name), std::vector<uint8_t>(body, body + len)});
        return false;
      }
      if (b.Stale(h.stamp, h.session())) {
        counters_.hellosRefused++;
        counters_.hellosStale++;
        return false;
      }
      if (b.fromMetadata) loaded = &b;
    }
    if (!TakeToken(loaded)) {
      counters_.hellosRefused++;
      counters_.hellosThrottled++;
      return false;
    }
    counters_.hellosChecked++;
  }
  uint8_t key[kKeySize];
  bool ok = OpenHello(keys_, h, key);
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok) {
    counters_.hellosRefused++;
    return false;
  }
  // Looked up again: the name may have been bound meanwhile (another worker,
  // loadRemoteMD).
  auto it = bindings_.find(h.name);
  if (it == bindings_.end()) {
    if (bindings_.size() >= kMaxBindings) {
      counters_.hellosRefused++;
      return false;
    }
    it = bindings_.emplace(std::string(h.name), Binding{}).first;
    std::memcpy(it->second.identity, h.identity, kKeySize);
  }
  Binding& b = it->second;
  if (std::memcmp(b.identity, h.identity, kKeySize) != 0) {
    counters_.hellosRefused++;
    return false;
  }
  Session s;
  s.id = h.session();
  s.stamp = h.stamp;
  s.mac = crypto::HmacSha256Key(key, kKeySize);
  if (b.Stale(h.stamp, s.id) || !b.Add(std::move(s))) {
    counters_.hellosRefused++;
    counters_.hellosStale++;
    return false;
  }
  counters_.hellos++;
  if (answer == nullptr) return true;
  // Accepted: said under the session's key, so that only this agent can say it.
  *answer = AnswerBody(h.session(), holdsEndpoints ? kAcceptedAcksOnTargetEndpoint : kAccepted, 0);
  crypto::HmacSha256Key mac(key, kKeySize);
  ComputeMac(kAmHelloAnswer, mac, h.session(), 0, selfName_, h.name, answer->data(), kAnswerSigned,
             answer->data() + kAnswerSigned);
  return true;
}

bool AmAuthority::Verify(unsigned amId, const void* header, size_t headerLen, const uint8_t* body,
                         size_t len, std::string_view* from, const Reply* reply) {
  AmTag tag;
  std::lock_guard<std::mutex> lock(mu_);
  if (!ParseHeader(header, headerLen, &tag, from)) {
    counters_.noSession++;
    return false;
  }
  auto it = bindings_.find(*from);
  Session* s = nullptr;
  if (it != bindings_.end()) {
    for (Session& have : it->second.sessions) {
      if (have.id == tag.session) s = &have;
    }
  }
  if (s == nullptr) {
    counters_.noSession++;
    return false;
  }
  if (!CheckMac(amId, s->mac, tag, *from, selfName_, body, len)) {
    counters_.badMac++;
    return false;
  }
  if (tag.seq <= s->lastSeq) {
    counters_.replayed++;
    return false;
  }
  s->lastSeq = tag.seq;
  if (reply != nullptr) {
    TagWith(reply->amId, s->mac, s->id, ++s->replySeq, selfName_, *from, reply->body, reply->len,
            reply->header);
  }
  return true;
}

void AmAuthority::BindFromMetadata(const std::string& name, const uint8_t identity[kKeySize]) {
  if (name == selfName_) return;
  std::vector<std::vector<uint8_t>> kept;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = bindings_.try_emplace(name);
    Binding& b = it->second;
    if (fresh) {
      std::memcpy(b.identity, identity, kKeySize);
    } else if (std::memcmp(b.identity, identity, kKeySize) != 0) {
      // Metadata is the authority: whoever bound the name first with another key stops being it.
      b.Rebind(identity);
    }
    b.fromMetadata = true;
    for (auto p = pending_.begin(); p != pending_.end();) {
      if (p->name == name && std::memcmp(p->body.data() + 1, identity, kKeySize) == 0) {
        kept.push_back(std::move(p->body));
        p = pending_.erase(p);
      } else {
        ++p;
      }
    }
  }
  // Their name now binds to their key: verified and opened as they come.
  for (const std::vector<uint8_t>& body : kept) OnHello(body.data(), body.size());
}

AuthCounters AmAuthority::counters() {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace nixl::ucx
