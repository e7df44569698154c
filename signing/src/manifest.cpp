#include "weightgate/signing/manifest.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace wg::signing {
namespace {

std::string ToHex(const std::vector<uint8_t>& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

std::vector<std::string_view> Components(std::string_view p) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) parts.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

}  // namespace

std::string_view SerializationMethodName(SerializationMethod m) {
  return m == SerializationMethod::kFiles ? "files" : "shards";
}

std::string Serialization::ResourceAlgorithm() const {
  std::string a(HashAlgoName(hash));
  if (method == SerializationMethod::kShards) a += "-sharded-" + std::to_string(shard_size);
  return a;
}

std::string Resource::Name() const {
  if (!is_shard) return path;
  return path + ":" + std::to_string(start) + ":" + std::to_string(end);
}

std::string Resource::DigestHex() const {
  return ToHex(digest);
}

bool PathLess(std::string_view a, std::string_view b) {
  auto pa = Components(a), pb = Components(b);
  return std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(), pb.end());
}

void ModelManifest::Sort() {
  std::stable_sort(resources.begin(), resources.end(), [](const Resource& x, const Resource& y) {
    if (x.path != y.path) return PathLess(x.path, y.path);
    return std::tie(x.start, x.end) < std::tie(y.start, y.end);
  });
}

Digest ModelManifest::RootDigest() const {
  auto h = Hasher::Create(HashAlgo::kSha256);
  for (const auto& r : resources) h->Update(Bytes(r.digest.data(), r.digest.size()));
  return h->Finish();
}

Result<std::string> NormaliseResourcePath(std::string_view name) {
  if (name.empty()) return Error::Malformed("empty resource name");
  if (name.find('\0') != std::string_view::npos)
    return Error::Malformed("resource name holds a NUL byte").Found(std::string(name));
  if (name.front() == '/')
    return Error::Unsafe("resource name is absolute")
        .Expected("a model-relative path")
        .Found(std::string(name));
  std::string out;
  for (auto part : Components(name)) {
    if (part == ".") continue;
    if (part == "..")
      return Error::Unsafe("resource name leaves the model folder")
          .Expected("no '..' components")
          .Found(std::string(name));
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  // model_signing names a single-file model "."; a folder resource never normalises to it.
  if (out.empty()) out = ".";
  return out;
}

std::string ManifestDiff::Describe() const {
  std::string s;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    if (!s.empty()) s += "; ";
    s += what;
    s += ": ";
    for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  };
  list("missing", missing);
  list("extra", extra);
  list("modified", modified);
  return s;
}

ManifestDiff CompareManifests(const ModelManifest& expected, const ModelManifest& actual) {
  std::map<std::string, const Resource*> want, have;
  for (const auto& r : expected.resources) want[r.Name()] = &r;
  for (const auto& r : actual.resources) have[r.Name()] = &r;
  ManifestDiff d;
  for (const auto& [name, r] : want) {
    auto it = have.find(name);
    if (it == have.end()) {
      d.missing.push_back(name);
    } else if (it->second->algorithm != r->algorithm || it->second->digest != r->digest) {
      d.modified.push_back(name);
    }
  }
  for (const auto& [name, r] : have)
    if (!want.count(name)) d.extra.push_back(name);
  return d;
}

}  // namespace wg::signing
