// The handshake (FRAMES.md, "Handshake (v2)"): both sides prove the target's
// secret and their identity keys; names are bound to keys.
#include "tcp/engine_internal.h"

namespace nixl::tcp {

// Target side: the HELLO proves the secret (MAC) and the identity key
// (signature over both nonces, so it cannot be replayed); the name must be
// free or bound to that key. Same-host copies only where the kernel vouches
// for the peer's process: a Unix socket's SO_PEERCRED, another process, same
// user (or we are root).
bool Engine::OnHello(Conn* c) {
  HelloFixed f;
  if (c->pbuf.size() < sizeof(f)) return false;
  std::memcpy(&f, c->pbuf.data(), sizeof(f));
  if (f.nameLen > 1024 || c->pbuf.size() != sizeof(f) + f.nameLen) return false;
  std::string name(reinterpret_cast<const char*>(c->pbuf.data() + sizeof(f)), f.nameLen);
  uint8_t mac[32];
  Transcript("nixl-tcp-v2 hello")
      .Add(c->nonce, 32)
      .Add(f.nonce, 32)
      .Add(f.publicKey, 32)
      .Add(name)
      .Mac(secret_, mac);
  if (!crypto::ConstantTimeEqual(mac, f.mac, 32)) return false;
  Transcript signed_("nixl-tcp-v2 hello-sig");
  signed_.Add(c->nonce, 32).Add(f.nonce, 32).Add(publicKey_, 32).Add(name);
  if (!crypto::Ed25519Verify(f.publicKey, signed_.bytes.data(), signed_.bytes.size(),
                             f.signature)) {
    return false;
  }
  if (!BindName(name, f.publicKey)) return false;  // another agent's name
  c->bound = true;
  c->remoteName = std::move(name);
  std::memcpy(c->remoteKey, f.publicKey, 32);
  Authenticated(c);
  uint8_t flags = 0;
  if ((c->cur.flags & kFlagCma) && cfg_.sameHost && c->viaUnix && c->remotePid != 0 &&
      c->remotePid != static_cast<uint32_t>(getpid()) &&
      (c->remoteUid == geteuid() || geteuid() == 0)) {
    c->cma = true;
    flags = kFlagCma;
  }
  // Only to an initiator that asked: one that predates the flag checks the
  // MAC over the flags it knows.
  if (c->cur.flags & kFlagNotifAck) flags |= kFlagNotifAck;
  HelloOk ok;
  Transcript("nixl-tcp-v2 ok")
      .Add(f.nonce, 32)
      .Add(c->nonce, 32)
      .Add(&flags, 1)
      .Mac(secret_, ok.mac);
  Transcript proof("nixl-tcp-v2 ok-sig");
  proof.Add(f.nonce, 32).Add(c->nonce, 32).Add(f.publicKey, 32).Add(&flags, 1);
  if (!crypto::Ed25519Sign(cfg_.identitySeed, proof.bytes.data(), proof.bytes.size(),
                           ok.signature)) {
    return false;
  }
  QueueOwned(c, MakeHeader(kHelloOk, flags, 0, sizeof(ok)),
             std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&ok),
                                  reinterpret_cast<uint8_t*>(&ok) + sizeof(ok)));
  return true;
}

void Engine::Authenticated(Conn* c) {
  unauthIncoming_--;
  authIncoming_++;
  c->state = Conn::kReady;
  // Keep what was read past the HELLO (nothing should be) in the full buffer.
  c->rbuf.resize(kRecvBuf);
}

// Initiator side, on the target's CHALLENGE.
void Engine::SendHello(Conn* c) {
  Peer* p = c->peer;
  FillRandom(c->myNonce, sizeof(c->myNonce));
  HelloFixed f{};
  std::memcpy(f.nonce, c->myNonce, 32);
  std::memcpy(f.publicKey, publicKey_, 32);
  Transcript("nixl-tcp-v2 hello")
      .Add(c->nonce, 32)
      .Add(f.nonce, 32)
      .Add(f.publicKey, 32)
      .Add(cfg_.name)
      .Mac(p->secret, f.mac);
  Transcript signed_("nixl-tcp-v2 hello-sig");
  signed_.Add(c->nonce, 32).Add(f.nonce, 32).Add(p->publicKey, 32).Add(cfg_.name);
  crypto::Ed25519Sign(cfg_.identitySeed, signed_.bytes.data(), signed_.bytes.size(), f.signature);
  f.streamIndex = c->streamIndex;
  f.nameLen = static_cast<uint32_t>(cfg_.name.size());
  std::vector<uint8_t> hello(sizeof(HelloFixed) + cfg_.name.size());
  std::memcpy(hello.data(), &f, sizeof(f));
  std::memcpy(hello.data() + sizeof(f), cfg_.name.data(), cfg_.name.size());
  uint8_t flags = (p->sameHost && c->viaUnix && c->streamIndex == 0) ? kFlagCma : 0;
  // A target that predates kFlagNotifAck ignores it and does not answer it.
  flags |= kFlagNotifAck;
  QueueOwned(c, MakeHeader(kHello, flags, 0, hello.size()), std::move(hello));
  c->state = Conn::kWaitHelloOk;
}

// Initiator side: the target proves it holds its secret and its identity key
// before a byte of payload goes to it.
bool Engine::OnHelloOk(Conn* c) {
  Peer* p = c->peer;
  if (!p || c->pbuf.size() != sizeof(HelloOk)) return false;
  HelloOk ok;
  std::memcpy(&ok, c->pbuf.data(), sizeof(ok));
  uint8_t flags = c->cur.flags & (kFlagCma | kFlagNotifAck);
  uint8_t mac[32];
  Transcript("nixl-tcp-v2 ok")
      .Add(c->myNonce, 32)
      .Add(c->nonce, 32)
      .Add(&flags, 1)
      .Mac(p->secret, mac);
  Transcript proof("nixl-tcp-v2 ok-sig");
  proof.Add(c->myNonce, 32).Add(c->nonce, 32).Add(publicKey_, 32).Add(&flags, 1);
  if (!crypto::ConstantTimeEqual(mac, ok.mac, 32) ||
      !crypto::Ed25519Verify(p->publicKey, proof.bytes.data(), proof.bytes.size(), ok.signature)) {
    FailPeer(p, kErrRemoteDisconnect,
             "the agent at " + p->host + ":" + std::to_string(p->port) + " did not prove it is '" +
                 p->name + "' (its secret or identity key differs from the loaded metadata)");
    return false;
  }
  c->state = Conn::kReady;
  // Same-host copies need the kernel's word on the target's process too.
  bool cma = (flags & kFlagCma) != 0 && c->viaUnix && c->remotePid != 0 &&
             c->remotePid != static_cast<uint32_t>(getpid());
  c->cma = cma;
  if (c->streamIndex == 0) {
    p->cma = cma;
    p->notifAck = (flags & kFlagNotifAck) != 0;  // notifications go on stream 0
  }
  if (++p->authed == p->streams.size()) OnPeerReady(p);
  return true;
}

bool Engine::BindName(const std::string& name, const uint8_t key[32]) {
  // This agent's own name is bound to its own key: nobody else speaks as it.
  if (name == cfg_.name) return crypto::ConstantTimeEqual(key, publicKey_, 32);
  auto it = bindings_.find(name);
  if (it == bindings_.end()) {
    Binding b;
    std::memcpy(b.key, key, 32);
    b.liveConns = 1;
    bindings_.emplace(name, b);
    return true;
  }
  Binding& b = it->second;
  if (!crypto::ConstantTimeEqual(b.key, key, 32)) {
    if (b.fromMetadata || b.liveConns > 0) return false;
    std::memcpy(b.key, key, 32);
  }
  b.liveConns++;
  return true;
}

void Engine::UnbindName(const std::string& name) {
  auto it = bindings_.find(name);
  if (it == bindings_.end()) return;
  if (it->second.liveConns > 0) it->second.liveConns--;
  if (it->second.liveConns == 0 && !it->second.fromMetadata) bindings_.erase(it);
}

// The metadata is the authority on a name: a connection that bound it first
// (trust on first use) or under an earlier metadata's key stops acting as it.
void Engine::BindNameFromMetadata(const std::string& name, const uint8_t key[32]) {
  std::vector<Conn*> impostors;
  for (Conn* c : conns_) {
    if (!c->outgoing && c->bound && c->remoteName == name &&
        !crypto::ConstantTimeEqual(c->remoteKey, key, 32)) {
      impostors.push_back(c);
    }
  }
  // Each close releases its reference on the binding (UnbindName).
  for (Conn* c : impostors) {
    CloseConn(c, "its name's metadata binds that name to another identity key");
  }
  Binding& b = bindings_[name];
  std::memcpy(b.key, key, 32);
  b.fromMetadata = true;
}

}  // namespace nixl::tcp
