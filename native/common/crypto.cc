#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <climits>
#include <memory>
#include <stdexcept>

namespace nixl::crypto {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

}  // namespace

void RandomBytes(void* p, size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  while (n > 0) {
    int chunk = static_cast<int>(n > INT_MAX ? INT_MAX : n);
    if (RAND_bytes(b, chunk) != 1) throw std::runtime_error("RAND_bytes failed");
    b += chunk;
    n -= static_cast<size_t>(chunk);
  }
}

void HmacSha256(const uint8_t* key, size_t keyLen, const uint8_t* msg, size_t msgLen,
                uint8_t out[kDigestSize]) {
  unsigned int outLen = kDigestSize;
  if (HMAC(EVP_sha256(), key, static_cast<int>(keyLen), msg, msgLen, out, &outLen) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
}

void Sha256(const uint8_t* msg, size_t len, uint8_t out[kDigestSize]) { SHA256(msg, len, out); }

bool ConstantTimeEqual(const void* a, const void* b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

bool Ed25519Sign(const uint8_t seed[kIdentityKeySize], const uint8_t* msg, size_t len,
                 uint8_t sig[kSignatureSize]) {
  Key key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, kIdentityKeySize));
  Ctx ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  size_t sigLen = kSignatureSize;
  return EVP_DigestSign(ctx.get(), sig, &sigLen, msg, len) == 1 && sigLen == kSignatureSize;
}

bool Ed25519Verify(const uint8_t publicKey[kIdentityKeySize], const uint8_t* msg, size_t len,
                   const uint8_t sig[kSignatureSize]) {
  Key key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, publicKey, kIdentityKeySize));
  Ctx ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig, kSignatureSize, msg, len) == 1;
}

bool Ed25519PublicKey(const uint8_t seed[kIdentityKeySize], uint8_t publicKey[kIdentityKeySize]) {
  Key key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, kIdentityKeySize));
  size_t len = kIdentityKeySize;
  return key && EVP_PKEY_get_raw_public_key(key.get(), publicKey, &len) == 1 &&
         len == kIdentityKeySize;
}

}  // namespace nixl::crypto
