// Content hashing: SHA-256 and BLAKE3, streaming and many-at-once.
//
// Every digest in weightgate (OCI blob digests, OMS manifest entries, golden records)
// comes from here. Hasher streams one message; HashMany hashes many independent
// messages (files, shards) together so SIMD engines can run 8 or 16 of them per
// instruction stream and every core is used. Whatever engine runs, the bytes out are
// the reference algorithm's (OpenSSL for SHA-256, the BLAKE3 specification).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"

namespace wg {

enum class HashAlgo { kSha256, kBlake3 };
std::string_view HashAlgoName(HashAlgo a);  // "sha256", "blake3"
std::optional<HashAlgo> HashAlgoFromName(std::string_view name);

struct Digest {
  HashAlgo algo = HashAlgo::kSha256;
  std::array<uint8_t, 32> bytes{};
  std::string Hex() const;
  // "sha256:<hex>", the OCI form.
  std::string Prefixed() const;
  bool operator==(const Digest& o) const { return algo == o.algo && bytes == o.bytes; }
  // Parses "<algo>:<64 hex>".
  static Result<Digest> Parse(std::string_view s);
};

class Hasher {
 public:
  virtual ~Hasher() = default;
  static std::unique_ptr<Hasher> Create(HashAlgo algo);
  virtual void Update(Bytes data) = 0;
  virtual Digest Finish() = 0;  // once
};

Digest HashBytes(HashAlgo algo, Bytes data);

// Hashes each message independently; out[i] is the digest of messages[i].
void HashMany(HashAlgo algo, std::span<const Bytes> messages, std::span<Digest> out);

}  // namespace wg
