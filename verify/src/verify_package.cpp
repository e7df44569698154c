// VerifyPackage and DescribePackageSignature: a package against its OMS signature.
#include <algorithm>
#include <map>
#include <set>

#include "package_hashing.h"
#include "weightgate/core/file.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/model_hashing.h"
#include "weightgate/signing/statement.h"
#include "weightgate/verify/package_signature.h"

namespace wg::verify {
namespace {

constexpr uint64_t kMaxBundle = 64 << 20;

// The signature layer's descriptor; nullopt when the package has none.
Result<std::optional<oci::Descriptor>> SignatureLayer(const oci::Manifest& m,
                                                      const std::string& package) {
  std::optional<oci::Descriptor> found;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].media_type != oci::kWeightgateSignature) continue;
    if (found)
      return Error::Malformed("more than one signature layer")
          .File(package)
          .Field("layer " + std::to_string(i))
          .Expected("at most one " + std::string(oci::kWeightgateSignature));
    found = m.layers[i];
  }
  return found;
}

// A diff entry names a resource: the path, or "path:start:end" for a shard.
bool NamesResource(const std::string& entry, const std::string& path) {
  if (entry == path) return true;
  if (entry.size() <= path.size() + 1 || entry.compare(0, path.size(), path) != 0 ||
      entry[path.size()] != ':')
    return false;
  std::string_view rest = std::string_view(entry).substr(path.size() + 1);
  size_t colon = rest.find(':');
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return colon != std::string_view::npos && digits(rest.substr(0, colon)) &&
         digits(rest.substr(colon + 1));
}

// A layer whose blob contradicts its own descriptor is reported once, as modified, whatever
// the shard-level comparison made of it.
void FoldInconsistent(signing::ManifestDiff& diff, const std::set<std::string>& names) {
  auto drop = [&](std::vector<std::string>& v) {
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const std::string& e) {
                             for (const auto& n : names)
                               if (NamesResource(e, n)) return true;
                             return false;
                           }),
            v.end());
  };
  drop(diff.missing);
  drop(diff.modified);
  drop(diff.extra);
  diff.modified.insert(diff.modified.end(), names.begin(), names.end());
  std::sort(diff.modified.begin(), diff.modified.end());
}

}  // namespace

Result<PackageVerifyReport> VerifyPackage(const std::string& package,
                                          const signing::TrustPolicy& trust,
                                          const PackageVerifyOptions& options) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
  WG_ASSIGN_OR_RETURN(oci::Manifest m, reader->ReadManifest());

  std::string text, source;
  if (!options.signature_path.empty()) {
    source = options.signature_path;
    WG_ASSIGN_OR_RETURN(text, ReadSmallFile(source, kMaxBundle));
  } else {
    WG_ASSIGN_OR_RETURN(auto layer, SignatureLayer(m, package));
    if (!layer)
      return Error::Usage("the package is not signed (it has no signature layer)")
          .File(package)
          .Expected("a signature layer (" + std::string(oci::kWeightgateSignature) +
                    "): weightgate sign PKG --key KEY");
    source = package + ": " + std::string(kSignatureLayerTitle);
    WG_ASSIGN_OR_RETURN(text, reader->ReadVerified(*layer, "signature layer", kMaxBundle));
  }
  auto bundle = signing::Bundle::Parse(text);
  if (!bundle.ok()) return std::move(bundle.error().File(source));
  auto verified = signing::VerifyBundle(*bundle, trust);
  if (!verified.ok()) return std::move(verified.error().File(source));

  PackageVerifyReport report;
  report.signature = std::move(*verified);
  const signing::ModelManifest& expected = report.signature.manifest;
  auto all = CoveredBlobs(m);
  if (!all.ok()) return std::move(all).error().File(package);
  // The signer's ignore paths are honoured (weightgate's own package signatures have none).
  std::vector<CoveredBlob> covered;
  for (auto& c : *all)
    if (!signing::IsIgnored(c.name, expected.serialization.ignore_paths))
      covered.push_back(std::move(c));
  signing::Serialization s = expected.serialization;
  WG_ASSIGN_OR_RETURN(
      internal::HashedPackage hashed,
      internal::HashCoveredBlobs(*reader, covered, internal::PackageModelName(m, package), s));
  report.actual = std::move(hashed.manifest);
  report.diff = signing::CompareManifests(expected, report.actual);
  std::set<std::string> inconsistent;
  for (const auto& i : hashed.inconsistent) inconsistent.insert(i.name);
  if (!inconsistent.empty()) FoldInconsistent(report.diff, inconsistent);
  report.inconsistent.assign(inconsistent.begin(), inconsistent.end());

  std::map<std::string, const signing::Resource*> have;
  for (const auto& r : report.actual.resources) have[r.Name()] = &r;
  for (const auto& r : expected.resources) {
    auto it = have.find(r.Name());
    if (it != have.end() && it->second->algorithm == r.algorithm &&
        it->second->digest == r.digest && !inconsistent.count(r.path))
      report.verified++;
  }
  return report;
}

Result<SignatureSummary> DescribePackageSignature(const std::string& package) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
  WG_ASSIGN_OR_RETURN(oci::Manifest m, reader->ReadManifest());
  SignatureSummary s;
  WG_ASSIGN_OR_RETURN(auto layer, SignatureLayer(m, package));
  if (!layer) return s;
  s.present = true;
  auto text = reader->ReadVerified(*layer, "signature layer", kMaxBundle);
  if (!text.ok()) {
    s.problem = text.error().ToString();
    return s;
  }
  auto bundle = signing::Bundle::Parse(*text);
  if (!bundle.ok()) {
    s.problem = bundle.error().ToString();
    return s;
  }
  if (!bundle->certificates.empty()) {
    s.method = "certificate";
    s.signer = signing::CertificateSubject(bundle->certificates[0]);
  } else {
    s.method = "key";
    s.signer = bundle->key_hint.value_or("(no key hint)");
  }
  // Unverified: only for display.
  auto manifest = signing::ManifestFromStatement(bundle->payload);
  if (manifest.ok())
    s.resources = manifest->resources.size();
  else
    s.problem = manifest.error().ToString();
  return s;
}

}  // namespace wg::verify
