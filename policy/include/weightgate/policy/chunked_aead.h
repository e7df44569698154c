// Chunked AES-256-GCM: streaming, seekable encryption of weight files.
//
// Layout (all integers little-endian):
//   header (40 bytes): "WGAEAD01" | chunk_size u32 | flags u32 (0) | plaintext_size u64 |
//                      base_nonce[12] | reserved u32 (0)
//   chunk i:           ciphertext (chunk_size bytes, the last one shorter) | GCM tag[16]
// Chunk i's nonce is base_nonce with its last 8 bytes XORed with big-endian i; its AAD is
// the whole header, then i as u64, then a final flag byte (1 on the last chunk only). So
// every chunk authenticates on its own (seekable, parallel), a reordered chunk fails (index),
// a truncated stream fails (the size in the header is authenticated by every chunk, and the
// last chunk must carry the final flag), and an edited header fails every chunk.
// An empty plaintext is one empty final chunk.
//
// The chunk key is derived from the content key and the policy digest (DerivePayloadKey),
// so the same content key under a swapped policy decrypts nothing.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"
#include "weightgate/core/hash.h"

namespace wg::policy {

inline constexpr uint32_t kDefaultChunkSize = 1u << 20;  // 1 MiB
inline constexpr uint32_t kMaxChunkSize = 64u << 20;
inline constexpr size_t kAeadHeaderSize = 40;
inline constexpr size_t kGcmTagSize = 16;

using Key256 = std::array<uint8_t, 32>;

// A fresh random 256-bit key from the OS CSPRNG (via OpenSSL RAND_bytes).
Result<Key256> RandomKey();
// HKDF-SHA256(content_key, info = "weightgate/v1 payload" || policy digest bytes).
Key256 DerivePayloadKey(const Key256& content_key, const Digest& policy_digest);

// Size of the encrypted form of `plaintext_size` bytes.
uint64_t EncryptedSize(uint64_t plaintext_size, uint32_t chunk_size = kDefaultChunkSize);

// Encrypts plaintext into out (which the caller commits). Chunks are sealed in parallel.
Status EncryptStream(Bytes plaintext, const Key256& payload_key, AtomicFile& out,
                     uint32_t chunk_size = kDefaultChunkSize);

// Random access to an encrypted stream held in memory or a mapped file.
class AeadReader {
 public:
  // Checks the header and that the size matches the header exactly (truncation, extension).
  static Result<AeadReader> Open(Bytes encrypted, const Key256& payload_key, std::string source);
  uint64_t plaintext_size() const { return plaintext_size_; }
  uint32_t chunk_size() const { return chunk_size_; }
  uint64_t chunk_count() const { return chunk_count_; }
  // Decrypts and authenticates chunk `index` into out (room for chunk_size bytes); returns
  // its length. Fails with kMismatch naming the chunk when its tag does not verify.
  Result<size_t> DecryptChunk(uint64_t index, uint8_t* out) const;

 private:
  Bytes data_;
  Key256 key_{};
  std::string source_;
  uint32_t chunk_size_ = 0;
  uint64_t plaintext_size_ = 0;
  uint64_t chunk_count_ = 0;
};

// Decrypts a whole stream into out; out is only committed by the caller after this
// succeeds, so a failure leaves no plaintext behind (AtomicFile removes its temp file).
Status DecryptStream(Bytes encrypted, const Key256& payload_key, const std::string& source,
                     AtomicFile& out);

// File-to-file helpers: the output appears complete or not at all.
Status EncryptFile(const std::string& in, const std::string& out, const Key256& payload_key,
                   uint32_t chunk_size = kDefaultChunkSize);
Status DecryptFile(const std::string& in, const std::string& out, const Key256& payload_key);

}  // namespace wg::policy
