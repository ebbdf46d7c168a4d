#include "ucx/am_auth.h"

#include <cstring>
#include <stdexcept>

#include "common/crypto.h"
#include "ucx/wire.h"

namespace nixl::ucx {
namespace {

constexpr char kHelloLabel[] = "nixl-ucx-v3 hello";
constexpr char kKeyLabel[] = "nixl-ucx-v3 key";
constexpr char kAmLabel[] = "nixl-ucx-v3 am";

// Bounds on what senders can make the target keep (DESIGN rule 8).
constexpr size_t kMaxBindings = 4096;  // names; past it, new first-use names are refused
constexpr size_t kMaxSessions = 16;    // per name (one per sender endpoint); oldest dropped
constexpr size_t kMaxPending = 64;     // HELLOs waiting for metadata; oldest dropped
constexpr size_t kMaxName = 4096;

constexpr size_t kHelloFixed = 1 + 2 * kKeySize + crypto::kSignatureSize;
constexpr size_t kTagSize = 1 + 8 + 8 + kMacSize;

void PutU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }  // little-endian hosts
uint64_t GetU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// What the HELLO's signature covers, and what K is derived for.
std::vector<uint8_t> HelloTranscript(const char* label, const uint8_t targetExchange[kKeySize],
                                     const uint8_t ephemeral[kKeySize],
                                     const uint8_t identity[kKeySize], std::string_view name) {
  std::vector<uint8_t> t(label, label + std::strlen(label));
  t.insert(t.end(), targetExchange, targetExchange + kKeySize);
  t.insert(t.end(), ephemeral, ephemeral + kKeySize);
  t.insert(t.end(), identity, identity + kKeySize);
  t.insert(t.end(), name.begin(), name.end());
  return t;
}

bool DeriveKey(const uint8_t shared[kKeySize], const uint8_t targetExchange[kKeySize],
               const uint8_t ephemeral[kKeySize], const uint8_t identity[kKeySize],
               std::string_view name, uint8_t key[kKeySize]) {
  std::vector<uint8_t> info = HelloTranscript("", targetExchange, ephemeral, identity, name);
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

}  // namespace

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
                               const uint8_t targetExchange[kKeySize], SendSession* session) {
  uint8_t ephemeralPrivate[kKeySize], ephemeral[kKeySize], shared[kKeySize], key[kKeySize];
  crypto::RandomBytes(ephemeralPrivate, kKeySize);
  std::vector<uint8_t> hello(kHelloFixed + selfName.size());
  hello[0] = kAuthVersion;
  std::memcpy(&hello[1], self.identityPublic, kKeySize);
  if (!crypto::X25519PublicKey(ephemeralPrivate, ephemeral) ||
      !crypto::X25519(ephemeralPrivate, targetExchange, shared) ||
      !DeriveKey(shared, targetExchange, ephemeral, self.identityPublic, selfName, key)) {
    throw std::runtime_error("the UCX session key exchange failed");
  }
  std::memcpy(&hello[1 + kKeySize], ephemeral, kKeySize);
  std::vector<uint8_t> t =
      HelloTranscript(kHelloLabel, targetExchange, ephemeral, self.identityPublic, selfName);
  if (!crypto::Ed25519Sign(self.identitySeed, t.data(), t.size(), &hello[1 + 2 * kKeySize])) {
    throw std::runtime_error("signing the UCX HELLO failed");
  }
  std::memcpy(&hello[kHelloFixed], selfName.data(), selfName.size());
  session->mac = crypto::HmacSha256Key(key, kKeySize);
  session->id = GetU64(ephemeral);
  session->nextSeq = 1;
  session->lastAckSeq = 0;
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

void AmAuthority::AddSession(Binding& b, Session&& s) {
  // The same HELLO again (a replay) must not reset its sequence numbers.
  for (const Session& have : b.sessions) {
    if (have.id == s.id) return;
  }
  if (b.sessions.size() >= kMaxSessions) b.sessions.pop_front();
  b.sessions.push_back(std::move(s));
}

void AmAuthority::OnHello(const uint8_t* body, size_t len) {
  // An empty HELLO: an endpoint's handshake (UcxEngine::SendHandshake).
  if (len == 0) return;
  bool ok = len > kHelloFixed && len - kHelloFixed <= kMaxName && body[0] == kAuthVersion;
  std::string name;
  Pending p;
  if (ok) {
    const uint8_t* identity = body + 1;
    const uint8_t* ephemeral = body + 1 + kKeySize;
    const uint8_t* sig = body + 1 + 2 * kKeySize;
    name.assign(reinterpret_cast<const char*>(body + kHelloFixed), len - kHelloFixed);
    std::vector<uint8_t> t =
        HelloTranscript(kHelloLabel, keys_.exchangePublic, ephemeral, identity, name);
    uint8_t shared[kKeySize], key[kKeySize];
    // Nobody else speaks under this agent's name: its own messages never cross the wire.
    ok = name != selfName_ && crypto::Ed25519Verify(identity, t.data(), t.size(), sig) &&
         crypto::X25519(keys_.exchangePrivate, ephemeral, shared) &&
         DeriveKey(shared, keys_.exchangePublic, ephemeral, identity, name, key);
    if (ok) p.session.mac = crypto::HmacSha256Key(key, kKeySize);
    std::memcpy(p.identity, identity, kKeySize);
    p.session.id = GetU64(ephemeral);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok) {
    counters_.hellosRefused++;
    return;
  }
  auto it = bindings_.find(name);
  if (it == bindings_.end()) {
    if (bindings_.size() >= kMaxBindings) {
      counters_.hellosRefused++;
      return;
    }
    it = bindings_.emplace(name, Binding{}).first;
    std::memcpy(it->second.identity, p.identity, kKeySize);
  }
  Binding& b = it->second;
  if (std::memcmp(b.identity, p.identity, kKeySize) != 0) {
    // Bound to another key: kept in case metadata with this key comes.
    counters_.hellosRefused++;
    if (pending_.size() >= kMaxPending) pending_.pop_front();
    p.name = std::move(name);
    pending_.push_back(std::move(p));
    return;
  }
  counters_.hellos++;
  AddSession(b, std::move(p.session));
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
  std::lock_guard<std::mutex> lock(mu_);
  Binding& b = bindings_[name];
  if (std::memcmp(b.identity, identity, kKeySize) != 0) {
    // Metadata is the authority: whoever bound the name first with another key stops being it.
    b.sessions.clear();
    std::memcpy(b.identity, identity, kKeySize);
  }
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->name == name && std::memcmp(p->identity, identity, kKeySize) == 0) {
      AddSession(b, std::move(p->session));
      counters_.hellos++;
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
}

AuthCounters AmAuthority::counters() {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace nixl::ucx
