// Cryptography for the data-plane handshakes, from the OpenSSL that Node
// ships: its headers are in Node's include folder and its symbols are
// exported to addons, so nothing else is linked.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nixl::crypto {

constexpr size_t kDigestSize = 32;       // HMAC-SHA256 and SHA-256
constexpr size_t kIdentityKeySize = 32;  // Ed25519 private seed or public key
constexpr size_t kSignatureSize = 64;    // Ed25519

// Fills `p` with cryptographically strong random bytes; throws
// std::runtime_error if the generator fails.
void RandomBytes(void* p, size_t n);

// out = HMAC-SHA256(key, msg).
void HmacSha256(const uint8_t* key, size_t keyLen, const uint8_t* msg, size_t msgLen,
                uint8_t out[kDigestSize]);

// out = SHA-256(msg).
void Sha256(const uint8_t* msg, size_t len, uint8_t out[kDigestSize]);

// Constant-time comparison of `n` bytes.
bool ConstantTimeEqual(const void* a, const void* b, size_t n);

// Ed25519 over `msg` with the private key whose 32-byte seed is `seed`.
// Returns false if OpenSSL refuses (never with a well-formed seed).
bool Ed25519Sign(const uint8_t seed[kIdentityKeySize], const uint8_t* msg, size_t len,
                 uint8_t sig[kSignatureSize]);

// Whether `sig` is a valid Ed25519 signature of `msg` by `publicKey`.
bool Ed25519Verify(const uint8_t publicKey[kIdentityKeySize], const uint8_t* msg, size_t len,
                   const uint8_t sig[kSignatureSize]);

// The public key of a private seed.
bool Ed25519PublicKey(const uint8_t seed[kIdentityKeySize], uint8_t publicKey[kIdentityKeySize]);

constexpr size_t kX25519KeySize = 32;  // X25519 private or public key

// The X25519 public key of a private key (32 random bytes).
bool X25519PublicKey(const uint8_t privateKey[kX25519KeySize], uint8_t publicKey[kX25519KeySize]);

// shared = X25519(privateKey, peerPublic). False if OpenSSL refuses, e.g. for
// a peer key of small order (the result would be all zeros).
bool X25519(const uint8_t privateKey[kX25519KeySize], const uint8_t peerPublic[kX25519KeySize],
            uint8_t shared[kX25519KeySize]);

// out = HKDF-SHA256(salt, ikm, info), `outLen` bytes (RFC 5869).
bool HkdfSha256(const uint8_t* salt, size_t saltLen, const uint8_t* ikm, size_t ikmLen,
                const uint8_t* info, size_t infoLen, uint8_t* out, size_t outLen);

// HMAC-SHA256 under one key for many messages, each given in pieces (no
// copy of them): the key is set up once, so a message costs its hashing
// only (0.3 us for a short one, against 1 us for a one-shot HMAC here).
// One message at a time: not thread-safe. Movable.
class HmacSha256Key {
 public:
  HmacSha256Key() = default;
  // Throws std::runtime_error if OpenSSL fails.
  HmacSha256Key(const uint8_t* key, size_t keyLen);
  ~HmacSha256Key();
  HmacSha256Key(HmacSha256Key&& o) noexcept : ctx_(o.ctx_) { o.ctx_ = nullptr; }
  HmacSha256Key& operator=(HmacSha256Key&& o) noexcept;
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;
  bool keyed() const { return ctx_ != nullptr; }
  // Starts a message (the state after the key); Add its pieces; Finish.
  HmacSha256Key& Begin();
  HmacSha256Key& Add(const void* p, size_t n);
  void Finish(uint8_t out[kDigestSize]);

 private:
  void* ctx_ = nullptr;  // EVP_MAC_CTX
};

}  // namespace nixl::crypto
