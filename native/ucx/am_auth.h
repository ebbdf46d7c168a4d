// Who a UCX active message is from (wire version 5; the layouts are in
// wire.h). A UCX receiver cannot tell which endpoint a message came on, so
// each message proves its sender itself:
//
// - Every agent has an Ed25519 identity key and a static X25519 key; both
//   public halves are in its connection info, i.e. in its metadata.
// - Before the first tagged message on each endpoint goes a HELLO (not
//   earlier: a transfer without messages never waits for it): the sender's name, its
//   identity key, a fresh X25519 key E, a stamp, and an Ed25519 signature over
//   the target's X25519 key, E, the identity key, the stamp and the name.
//   Sender and target both derive the session key K = HKDF(X25519(E, target));
//   only they can.
// - The stamp is the sender's HELLO counter (seeded from the real-time clock
//   in µs when the engine starts, one more per HELLO). The target keeps, per
//   identity key, the stamps of the sessions it holds and a floor: the
//   highest stamp of a session it dropped. A HELLO at or below the floor, or
//   with a held stamp, is a replay: refused. Endpoints may deliver their
//   HELLOs out of order, hence a floor and not "above the highest seen".
// - The target answers HELLOs (wire version 5): accepted (with a MAC
//   under K: only the target can say it), or refused with a hint of when to
//   retry (not authenticated: it names the HELLO's session id, which only
//   the sender and those who see the wire know). The answer goes back on
//   UCX's reply endpoint of a small query that follows the HELLO (the HELLO
//   itself never asks for one: UCX drops a message that does when the
//   target has since closed the endpoint the sender's is wired to), and, for
//   an accepted HELLO, also on the target's own endpoint to the sender if it
//   loaded the sender's metadata (the route that works when the query's
//   does not).
//   The sender keeps the endpoint's tagged messages until a HELLO of its is
//   accepted, making a new HELLO after a refusal or an answer that did not
//   come (backoff), and gives up after timeout_ms (UcxEngine::RetryHellos).
//   So a refused HELLO costs its sender time, never a message, and the
//   target may refuse any HELLO it does not want to pay for now.
// - Every later message carries the session id, a sequence number and a
//   truncated HMAC-SHA256 under K over (type, session, seq, from, to, body).
//
// The target binds names to identity keys with the TCP engine's rules
// (native/tcp/FRAMES.md, "Handshake (v2)"): a name whose metadata it loaded
// must come with that metadata's key; any other name binds to the key of its
// first HELLO (for good: UCX shows no connection whose end would free it);
// loading metadata with another key drops the sessions of the earlier key;
// this agent's own name is never accepted from the wire. A
// verified HELLO refused for its key is kept (bounded) and becomes a session
// if metadata with that key is loaded later: a peer that restarted with a
// new key is heard once the target loads its new metadata.
//
// What a stranger's HELLO costs (the signature check, X25519 and HKDF, about
// 0.2 ms of the progress thread): the cheap checks come first (size, version,
// name, the own name, a key other than the one the name is bound to, a
// replayed stamp, the bound on names), and none of them costs crypto. A HELLO
// refused for its key is kept unverified; it is verified when metadata with
// its key is loaded (on the JavaScript thread). What is left spends tokens
// before its crypto: HELLOs of names without loaded metadata (first use) from
// one bucket (kHelloBurst, refilled at kHellosPerSecond); HELLOs under a
// loaded name with that name's key from the name's own bucket and then from
// one shared by loaded names. Without a token the HELLO is refused, answered
// "retry after" (answers to refusals spend a bucket of their own), and its
// sender retries: junk under a loaded key costs a bounded share of the
// progress thread, and delays that agent's new endpoints, not its messages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/crypto.h"

namespace nixl::ucx {

constexpr size_t kKeySize = 32;
constexpr size_t kMacSize = 16;  // HMAC-SHA256 truncated (RFC 2104 section 5)

// This agent's keys (private halves never leave the process).
struct AgentKeys {
  uint8_t identitySeed[kKeySize];
  uint8_t identityPublic[kKeySize];
  uint8_t exchangePrivate[kKeySize];
  uint8_t exchangePublic[kKeySize];
  // Throws std::runtime_error if OpenSSL fails.
  static AgentKeys Generate();
};

// The sending half of one endpoint's session (guarded by its worker's mutex).
struct SendSession {
  bool ready = false;
  uint64_t id = 0;
  crypto::HmacSha256Key mac;  // keyed with the session's key
  uint64_t nextSeq = 1;
  uint64_t lastAckSeq = 0;  // acknowledgements the target sent under it
  // The target said (in its acceptance) that it holds its own endpoints to
  // this agent: its acknowledgements come on them, so no reply flag is needed.
  bool acksOnTargetEndpoint = false;
};

// The HELLO body for a new endpoint to the agent whose X25519 key is
// `targetExchange`, with `stamp` (strictly increasing per sender); fills
// `session` (ready). Throws std::runtime_error.
std::vector<uint8_t> MakeHello(const AgentKeys& self, const std::string& selfName,
                               const uint8_t targetExchange[kKeySize], uint64_t stamp,
                               SendSession* session);

// The first HELLO stamp of an engine: CLOCK_REALTIME in µs.
uint64_t FirstHelloStamp();

// header = tag | `from`, tagged under `session` (its next sequence number).
void TagHeader(unsigned amId, SendSession* session, const std::string& from, std::string_view to,
               const uint8_t* body, size_t len, std::vector<uint8_t>* header);

// The initiator's check of an answer to its own message: from `peer`, under
// `session` (which only that peer can key), with a sequence number above the
// last answer's. True if authentic and new (the session then remembers it).
bool VerifyAnswer(unsigned amId, SendSession* session, const void* header, size_t headerLen,
                  std::string_view peer, std::string_view self, const uint8_t* body, size_t len);

struct AuthCounters {
  uint64_t hellos = 0;           // sessions opened
  uint64_t hellosChecked = 0;    // HELLOs whose crypto was done (signature, X25519, HKDF)
  uint64_t hellosAnswered = 0;   // refusals answered (accepted HELLOs are always answered)
  uint64_t hellosRetried = 0;    // sender side: new HELLOs after a refusal or no answer
  uint64_t hellosRefused = 0;    // bad signature or key, own name, past the bounds (all below too)
  uint64_t hellosStale = 0;      // stamp not above what the key's sessions had: replays
  uint64_t hellosThrottled = 0;  // first-use HELLOs refused for want of a token
  uint64_t noSession = 0;        // messages under no session of their name (or malformed)
  uint64_t badMac = 0;           // messages whose MAC did not verify
  uint64_t replayed = 0;         // sequence number not above the session's last
};

// An answer to a message, tagged under the message's session (its own
// sequence numbers) from this agent to the message's sender.
struct Reply {
  unsigned amId = 0;
  const uint8_t* body = nullptr;
  size_t len = 0;
  std::vector<uint8_t>* header = nullptr;  // filled: tag | this agent's name
};

// A sender's reading of the target's answer to the HELLO of `session`. False
// if it is not an answer to that session (or an acceptance without the
// target's MAC); else *accepted (and session->acksOnTargetEndpoint from the
// verdict), and for a refusal *retryAfterMs.
bool ReadHelloAnswer(SendSession* session, std::string_view peer, std::string_view self,
                     const uint8_t* body, size_t len, bool* accepted, uint32_t* retryAfterMs);
// The session id an answer names (false if malformed).
bool HelloAnswerSession(const uint8_t* body, size_t len, uint64_t* session);
// The query that asks the target for its answer to the HELLO of `session`.
std::vector<uint8_t> MakeHelloQuery(uint64_t session, const std::string& selfName);
// The name a HELLO claims (false if malformed; nothing checked).
bool HelloSender(const uint8_t* body, size_t len, std::string_view* name);
// The name a HELLO query claims (false if malformed; nothing checked).
bool HelloQuerySender(const uint8_t* body, size_t len, std::string_view* name);

// Tokens refilled at a constant rate up to a burst (the clock is
// CLOCK_MONOTONIC_COARSE in ns).
struct TokenBucket {
  double tokens = 0;
  int64_t atNs = 0;  // 0: full at the first Take
  bool Take(double burst, double perSecond, int64_t nowNs);
  // How long until a token, in ms (0: one is there).
  uint32_t MsToNext(double perSecond) const;
};

// The receiving side: names bound to identity keys, and their sessions.
// Called from progress (any worker) and from the JavaScript thread.
class AmAuthority {
 public:
  AmAuthority(std::string selfName, const AgentKeys& keys);

  // A HELLO's body: opens a session if its signature and name check out.
  // True if it did; then `answer`, if given, is the acceptance, which says
  // whether this agent holds its own endpoints to the sender (`holdsEndpoints`).
  bool OnHello(const uint8_t* body, size_t len, std::vector<uint8_t>* answer = nullptr,
               bool holdsEndpoints = false);
  // A HELLO query: fills `answer` (accepted if the session is open, else
  // refused with a retry hint, within the answers' budget); false: no answer.
  bool OnHelloQuery(const uint8_t* body, size_t len, std::vector<uint8_t>* answer,
                    bool holdsEndpoints);
  // Acceptances (verdict 3: this agent holds endpoints to the sender) of
  // every open session of `name`: sent when this agent loads its metadata
  // after those sessions opened, so that it acknowledges on its own endpoints.
  std::vector<std::vector<uint8_t>> AcceptancesFor(std::string_view name);
  // A tagged message. True if it is authentic and new; *from is then its
  // sender (a view into `header`), and `reply`, if given, is tagged.
  bool Verify(unsigned amId, const void* header, size_t headerLen, const uint8_t* body, size_t len,
              std::string_view* from, const Reply* reply = nullptr);
  // The metadata of `name` binds it to `identity` (loadRemoteMD); verifies
  // the HELLOs kept for that name and key.
  void BindFromMetadata(const std::string& name, const uint8_t identity[kKeySize]);
  AuthCounters counters();

 private:
  struct Session {
    uint64_t id = 0;
    uint64_t stamp = 0;
    crypto::HmacSha256Key mac;
    uint64_t lastSeq = 0;
    uint64_t replySeq = 0;
  };
  // What a key that a name was bound to before left behind.
  struct Retired {
    uint8_t identity[kKeySize] = {};
    uint64_t floor = 0;
  };
  struct Binding {
    uint8_t identity[kKeySize] = {};
    bool fromMetadata = false;
    uint64_t floor = 0;            // highest stamp of a session dropped under `identity`
    std::deque<Session> sessions;  // at most kMaxSessions
    std::deque<Retired> retired;   // the name's earlier keys, newest last, at most kMaxRetired
    TokenBucket hellos;            // loaded names: the crypto of HELLOs under this name
    // Whether a HELLO with this stamp and session id is one seen before.
    bool Stale(uint64_t stamp, uint64_t id) const;
    // False if the session was dropped at once (its stamp the lowest of a full set).
    bool Add(Session&& s);
    // Now bound to `to`: the old key's sessions go, its floor is retired.
    void Rebind(const uint8_t to[kKeySize]);
  };
  // A HELLO kept, unverified, until metadata with its key is loaded.
  struct Pending {
    std::string name;
    std::vector<uint8_t> body;
  };
  // Whether the HELLO's crypto may be spent now (takes a token); `loaded`:
  // the name's binding if its metadata was loaded.
  bool TakeToken(Binding* loaded);

  const std::string selfName_;
  const AgentKeys& keys_;
  std::mutex mu_;
  // Looked up by string_view: no allocation per message.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Binding, NameHash, std::equal_to<>> bindings_;
  std::deque<Pending> pending_;  // at most kMaxPending
  AuthCounters counters_;
  TokenBucket firstUse_;  // HELLOs of names without loaded metadata
  TokenBucket loaded_;    // HELLOs of loaded names, all of them together
  TokenBucket answers_;   // answers to refused HELLOs
};

}  // namespace nixl::ucx
