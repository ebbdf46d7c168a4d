// A small self-contained SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104), used
// for the connection challenge-response: libcrypto is not guaranteed here.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nixl::tcp {

class Sha256 {
 public:
  Sha256();
  void Update(const uint8_t* data, size_t len);
  void Final(uint8_t out[32]);

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t bufLen_ = 0;
  uint64_t total_ = 0;
};

// out = HMAC-SHA256(key, msg).
void HmacSha256(const uint8_t* key, size_t keyLen, const uint8_t* msg, size_t msgLen,
                uint8_t out[32]);

// Constant-time comparison of two 32-byte digests.
bool DigestEqual(const uint8_t a[32], const uint8_t b[32]);

}  // namespace nixl::tcp
