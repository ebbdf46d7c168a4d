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

}  // namespace nixl::crypto
