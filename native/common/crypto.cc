#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
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
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// Fetched once: fetching looks the algorithm up in OpenSSL's provider tables.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

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

bool X25519PublicKey(const uint8_t privateKey[kX25519KeySize], uint8_t publicKey[kX25519KeySize]) {
  Key key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, privateKey, kX25519KeySize));
  size_t len = kX25519KeySize;
  return key && EVP_PKEY_get_raw_public_key(key.get(), publicKey, &len) == 1 &&
         len == kX25519KeySize;
}

bool X25519(const uint8_t privateKey[kX25519KeySize], const uint8_t peerPublic[kX25519KeySize],
            uint8_t shared[kX25519KeySize]) {
  Key mine(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, privateKey, kX25519KeySize));
  Key theirs(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peerPublic, kX25519KeySize));
  if (!mine || !theirs) return false;
  PkeyCtx ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  size_t len = kX25519KeySize;
  return ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
         EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) == 1 &&
         EVP_PKEY_derive(ctx.get(), shared, &len) == 1 && len == kX25519KeySize;
}

bool HkdfSha256(const uint8_t* salt, size_t saltLen, const uint8_t* ikm, size_t ikmLen,
                const uint8_t* info, size_t infoLen, uint8_t* out, size_t outLen) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  return ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
         EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) == 1 &&
         EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt, static_cast<int>(saltLen)) == 1 &&
         EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm, static_cast<int>(ikmLen)) == 1 &&
         EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info, static_cast<int>(infoLen)) == 1 &&
         EVP_PKEY_derive(ctx.get(), out, &outLen) == 1;
}

HmacSha256Key::HmacSha256Key(const uint8_t* key, size_t keyLen) {
  EVP_MAC_CTX* ctx = HmacAlgorithm() ? EVP_MAC_CTX_new(HmacAlgorithm()) : nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (ctx == nullptr || EVP_MAC_init(ctx, key, keyLen, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    throw std::runtime_error("HMAC-SHA256 init failed");
  }
  ctx_ = ctx;
}

HmacSha256Key::~HmacSha256Key() { EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(ctx_)); }

HmacSha256Key& HmacSha256Key::operator=(HmacSha256Key&& o) noexcept {
  if (this != &o) {
    EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(ctx_));
    ctx_ = o.ctx_;
    o.ctx_ = nullptr;
  }
  return *this;
}

HmacSha256Key& HmacSha256Key::Begin() {
  // No key: OpenSSL's HMAC restarts from the state it kept after the key.
  if (EVP_MAC_init(static_cast<EVP_MAC_CTX*>(ctx_), nullptr, 0, nullptr) != 1) {
    throw std::runtime_error("HMAC-SHA256 restart failed");
  }
  return *this;
}

HmacSha256Key& HmacSha256Key::Add(const void* p, size_t n) {
  if (n > 0) EVP_MAC_update(static_cast<EVP_MAC_CTX*>(ctx_), static_cast<const uint8_t*>(p), n);
  return *this;
}

void HmacSha256Key::Finish(uint8_t out[kDigestSize]) {
  size_t len = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(ctx_), out, &len, kDigestSize) != 1 ||
      len != kDigestSize) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
}

}  // namespace nixl::crypto
