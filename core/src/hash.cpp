#include "weightgate/core/hash.h"

#include <openssl/evp.h>

#include "weightgate/core/hash_engine.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

class OpenSslSha256 final : public Hasher {
 public:
  OpenSslSha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~OpenSslSha256() override { EVP_MD_CTX_free(ctx_); }
  void Update(Bytes data) override { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  Digest Finish() override {
    Digest d;
    d.algo = HashAlgo::kSha256;
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, d.bytes.data(), &len);
    return d;
  }

 private:
  EVP_MD_CTX* ctx_;
};

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string_view HashAlgoName(HashAlgo a) {
  return a == HashAlgo::kSha256 ? "sha256" : "blake3";
}

std::optional<HashAlgo> HashAlgoFromName(std::string_view name) {
  if (name == "sha256") return HashAlgo::kSha256;
  if (name == "blake3") return HashAlgo::kBlake3;
  return std::nullopt;
}

std::string Digest::Hex() const {
  static const char* kHex = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    s[2 * i] = kHex[bytes[i] >> 4];
    s[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return s;
}

std::string Digest::Prefixed() const {
  return std::string(HashAlgoName(algo)) + ":" + Hex();
}

Result<Digest> Digest::Parse(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos)
    return Error::Malformed("digest lacks an algorithm prefix")
        .Expected("<algo>:<hex>")
        .Found(std::string(s));
  auto algo = HashAlgoFromName(s.substr(0, colon));
  if (!algo)
    return Error::Unsupported("unknown digest algorithm").Found(std::string(s.substr(0, colon)));
  std::string_view hex = s.substr(colon + 1);
  if (hex.size() != 64)
    return Error::Malformed("digest has the wrong length")
        .Expected("64 hex digits")
        .Found(std::to_string(hex.size()));
  Digest d;
  d.algo = *algo;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Error::Malformed("digest is not lower-case hex").Found(std::string(hex));
    d.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return d;
}

std::unique_ptr<Hasher> Hasher::Create(HashAlgo algo) {
  if (algo == HashAlgo::kBlake3) return NewBlake3Hasher();
  return std::make_unique<OpenSslSha256>();
}

Digest HashBytes(HashAlgo algo, Bytes data) {
  auto h = Hasher::Create(algo);
  h->Update(data);
  return h->Finish();
}

void HashMany(HashAlgo algo, std::span<const Bytes> messages, std::span<Digest> out) {
  (void)ThreadPool::Shared().ParallelFor(messages.size(), [&](size_t i) {
    out[i] = HashBytes(algo, messages[i]);
    return Ok();
  });
}

}  // namespace wg
