// ModelManifest: the one thing that passes between hashing and signing.
//
// A manifest lists every resource of a model (a whole file, or a shard [start, end) of
// a file) with its digest, plus the serialization parameters needed to hash the model
// again. Names, ordering and algorithm strings follow OpenSSF Model Signing (OMS) as
// the reference tool `model_signing` writes them, so that its verifier and ours agree
// byte for byte: file names are model-relative POSIX paths, shards are "path:start:end"
// (end exclusive), resources sort by path component-wise, then by start and end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/hash.h"

namespace wg::signing {

enum class SerializationMethod { kFiles, kShards };
std::string_view SerializationMethodName(SerializationMethod m);  // "files", "shards"

// model_signing's default shard size (1 GB, decimal).
inline constexpr uint64_t kDefaultShardSize = 1'000'000'000;

// The parameters that let a verifier redo the hashing: OMS predicate.serialization.
struct Serialization {
  SerializationMethod method = SerializationMethod::kFiles;
  HashAlgo hash = HashAlgo::kSha256;
  uint64_t shard_size = kDefaultShardSize;  // shards only
  bool allow_symlinks = false;
  // Model-relative paths excluded from hashing (recorded so a verifier skips them too).
  std::vector<std::string> ignore_paths;

  // The per-resource algorithm string OMS records: "sha256" for files,
  // "sha256-sharded-<shard_size>" for shards (model_signing's digest_name).
  std::string ResourceAlgorithm() const;
};

struct Resource {
  std::string path;    // model-relative POSIX path, normalised
  uint64_t start = 0;  // shards only
  uint64_t end = 0;    // shards only, exclusive
  bool is_shard = false;
  std::string algorithm;  // as recorded, e.g. "sha256" or "sha256-sharded-1000000000"
  std::vector<uint8_t> digest;

  // The OMS resource name: the path, or "path:start:end" for a shard.
  std::string Name() const;
  std::string DigestHex() const;
};

struct ModelManifest {
  std::string model_name;  // informational: the model folder's basename
  Serialization serialization;
  std::vector<Resource> resources;

  // Sorts resources into the canonical order model_signing emits (path components
  // compared in code-point order, then start, end).
  void Sort();
  // SHA-256 over the raw digests in listed order: the in-toto subject digest.
  Digest RootDigest() const;
};

// Normalises a model-relative name as PurePosixPath does ("./a//b/" -> "a/b") and
// refuses names that could leave the model folder (absolute, "..", empty, NUL).
Result<std::string> NormaliseResourcePath(std::string_view name);

// Component-wise path order (PurePosixPath semantics): "a/b" sorts before "a.b".
bool PathLess(std::string_view a, std::string_view b);

// What differs between the manifest a signature vouches for and the one just computed.
struct ManifestDiff {
  std::vector<std::string> missing;   // signed, but absent on disk
  std::vector<std::string> extra;     // on disk, but not signed
  std::vector<std::string> modified;  // present in both with different digests/algorithms
  bool empty() const { return missing.empty() && extra.empty() && modified.empty(); }
  std::string Describe() const;
};
ManifestDiff CompareManifests(const ModelManifest& expected, const ModelManifest& actual);

}  // namespace wg::signing
