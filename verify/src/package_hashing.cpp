#include "package_hashing.h"

#include <filesystem>
#include <map>

#include "weightgate/core/hash_files.h"
#include "weightgate/signing/model_hashing.h"

namespace wg::verify::internal {
namespace {

// One blob to hash, and every covered name that refers to it.
struct Distinct {
  const CoveredBlob* first = nullptr;
  std::vector<const CoveredBlob*> all;
  oci::BlobData data;
};

}  // namespace

std::string PackageModelName(const oci::Manifest& m, const std::string& package) {
  auto t = m.annotations.find(std::string(oci::kAnnotationTitle));
  if (t != m.annotations.end() && !t->second.empty()) return t->second;
  std::filesystem::path p = std::filesystem::absolute(package).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.extension() == ".tar" ? p.stem().string() : p.filename().string();
}

Result<HashedPackage> HashCoveredBlobs(const oci::LayoutReader& reader,
                                       const std::vector<CoveredBlob>& covered,
                                       std::string model_name,
                                       const signing::Serialization& serialization) {
  HashedPackage out;
  // Identical files share one blob; hash it once.
  std::map<std::pair<std::string, uint64_t>, Distinct> by_blob;
  std::vector<Distinct*> order;
  for (const auto& c : covered) {
    auto& d = by_blob[{c.descriptor.digest, c.descriptor.size}];
    if (!d.first) {
      d.first = &c;
      order.push_back(&d);
    }
    d.all.push_back(&c);
  }

  std::vector<signing::ModelFile> files;
  std::vector<Distinct*> hashed;
  for (Distinct* d : order) {
    const oci::Descriptor& desc = d->first->descriptor;
    if (!reader.HasBlob(desc.digest)) {
      // A digest that is not even well formed is a malformed manifest, not a missing blob.
      WG_TRY(oci::ValidateDigest(desc.digest));
      for (const auto* c : d->all) out.absent.push_back(c->name);
      continue;
    }
    auto blob = reader.Blob(desc, d->first->what);
    if (!blob.ok()) {
      if (blob.error().code() != ErrorCode::kMismatch) return std::move(blob).error();
      for (const auto* c : d->all)
        out.inconsistent.push_back({c->name, c->what, std::to_string(desc.size) + " bytes",
                                    blob.error().found().value_or("another size")});
      continue;
    }
    d->data = std::move(*blob);
    signing::ModelFile f;
    f.name = d->first->name;
    f.path = d->data.file->path();
    f.size = d->data.size;
    f.span = true;
    f.offset = d->data.offset;
    files.push_back(std::move(f));
    hashed.push_back(d);
  }

  WG_ASSIGN_OR_RETURN(signing::ModelManifest m,
                      signing::HashModelFiles(std::move(model_name), files, serialization));

  // Each blob's SHA-256 against its descriptor: free for files + sha256, a second pass else.
  std::map<std::string, std::string> sha256_of;  // first name -> "sha256:<hex>"
  bool reuse = serialization.method == signing::SerializationMethod::kFiles &&
               serialization.hash == HashAlgo::kSha256;
  if (reuse) {
    for (const auto& r : m.resources) sha256_of[r.path] = "sha256:" + r.DigestHex();
  } else {
    std::vector<FileRange> ranges;
    for (const auto& f : files) ranges.push_back({f.path, f.offset, f.size});
    WG_ASSIGN_OR_RETURN(auto digests, HashFileRanges(ranges, HashAlgo::kSha256));
    for (size_t i = 0; i < files.size(); ++i) sha256_of[files[i].name] = digests[i].Prefixed();
  }
  for (Distinct* d : hashed) {
    const std::string& want = d->first->descriptor.digest;
    const std::string& got = sha256_of[d->first->name];
    if (got != want)
      for (const auto* c : d->all) out.inconsistent.push_back({c->name, c->what, want, got});
  }

  // Layers sharing a blob: the first name's resources again under each other name.
  std::vector<signing::Resource> copies;
  for (Distinct* d : hashed)
    for (size_t k = 1; k < d->all.size(); ++k)
      for (const auto& r : m.resources)
        if (r.path == d->first->name) {
          signing::Resource c = r;
          c.path = d->all[k]->name;
          copies.push_back(std::move(c));
        }
  m.resources.insert(m.resources.end(), copies.begin(), copies.end());
  m.Sort();
  out.manifest = std::move(m);
  return out;
}

}  // namespace wg::verify::internal
