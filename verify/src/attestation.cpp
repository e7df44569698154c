#include "weightgate/verify/attestation.h"

#include <algorithm>
#include <filesystem>

#include "weightgate/core/hash_files.h"
#include "weightgate/package/media_types.h"
#include "weightgate/package/package.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/statement.h"

namespace wg::verify {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kSha256Prefix = "sha256:";

Result<std::vector<Subject>> PackageSubjects(const std::string& path) {
  WG_ASSIGN_OR_RETURN(package::PackageInfo info, package::Inspect(path));
  std::vector<Subject> out;
  for (const auto& l : info.layers) {
    if (!package::RoleFromName(l.role)) continue;  // weightgate's own layers
    const std::string& d = l.descriptor.digest;
    if (d.compare(0, kSha256Prefix.size(), kSha256Prefix) != 0)
      return Error::Unsupported("attestations need sha256 layer digests").File(path).Field(l.path);
    out.push_back({l.path, d.substr(kSha256Prefix.size())});
  }
  if (out.empty()) return Error::Malformed("the package holds no model files").File(path);
  return out;
}

Result<std::vector<Subject>> FileSubjects(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> files;  // name, full path
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(path, ec))
      if (e.is_regular_file())
        files.push_back({fs::relative(e.path(), path).generic_string(), e.path().string()});
    if (ec) return Error::Io("cannot list the folder: " + ec.message()).File(path);
  } else {
    files.push_back({fs::path(path).filename().string(), path});
  }
  std::vector<Subject> out;
  for (const auto& [name, full] : files) {
    WG_ASSIGN_OR_RETURN(Digest d, HashFile(full, HashAlgo::kSha256));
    out.push_back({name, d.Hex()});
  }
  if (out.empty()) return Error::Usage("nothing to attest: the folder is empty").File(path);
  return out;
}

std::string Describe(const Subject& s) {
  return s.name + " sha256:" + s.sha256;
}

}  // namespace

Result<std::vector<Subject>> SubjectsOf(const std::string& path) {
  Result<std::vector<Subject>> r =
      package::IsPackage(path) ? PackageSubjects(path) : FileSubjects(path);
  if (r.ok())
    std::sort(r->begin(), r->end(),
              [](const Subject& a, const Subject& b) { return a.name < b.name; });
  return r;
}

Result<std::string> SignAttestation(const std::vector<Subject>& subjects, const ojson& predicate,
                                    const signing::EcKey& key) {
  ojson statement = ojson::object();
  statement["_type"] = signing::kStatementType;
  statement["subject"] = ojson::array();
  for (const auto& s : subjects)
    statement["subject"].push_back({{"name", s.name}, {"digest", {{"sha256", s.sha256}}}});
  statement["predicateType"] = kGpuCheckPredicateType;
  statement["predicate"] = predicate;
  std::string payload;
  try {
    payload = statement.dump();
  } catch (const nlohmann::json::exception& e) {
    return Error::Usage(std::string("attestation is not valid UTF-8 JSON: ") + e.what());
  }
  WG_ASSIGN_OR_RETURN(std::vector<uint8_t> sig,
                      key.Sign(signing::Pae(signing::kInTotoPayloadType, payload)));
  ojson env = ojson::object();
  env["payloadType"] = signing::kInTotoPayloadType;
  env["payload"] = signing::Base64Encode(payload);
  env["signatures"] =
      ojson::array({{{"keyid", key.Hint()},
                     {"sig", signing::Base64Encode(std::string_view(
                                 reinterpret_cast<const char*>(sig.data()), sig.size()))}}});
  return env.dump() + "\n";
}

Result<VerifiedAttestation> VerifyAttestation(std::string_view envelope, const signing::EcKey& key,
                                              const std::vector<Subject>& expected,
                                              const std::string& source) {
  auto bad = [&](const std::string& field) {
    return Error::Malformed("attestation is not a DSSE envelope of an in-toto statement")
        .File(source)
        .Field(field);
  };
  ojson env = ojson::parse(envelope, nullptr, false);
  if (env.is_discarded() || !env.is_object()) return bad("(document)");
  if (!env.contains("payloadType") || env["payloadType"] != signing::kInTotoPayloadType)
    return bad("payloadType");
  if (!env.contains("payload") || !env["payload"].is_string()) return bad("payload");
  if (!env.contains("signatures") || !env["signatures"].is_array() || env["signatures"].empty())
    return bad("signatures");
  WG_ASSIGN_OR_RETURN(std::string payload,
                      signing::Base64Decode(env["payload"].get<std::string>()));
  VerifiedAttestation out;
  bool verified = false;
  for (const auto& s : env["signatures"]) {
    if (!s.is_object() || !s.contains("sig") || !s["sig"].is_string())
      return bad("signatures[].sig");
    WG_ASSIGN_OR_RETURN(std::string der, signing::Base64Decode(s["sig"].get<std::string>()));
    if (key.Verify(signing::Pae(signing::kInTotoPayloadType, payload),
                   std::vector<uint8_t>(der.begin(), der.end()))) {
      verified = true;
      out.keyid = s.value("keyid", "");
      break;
    }
  }
  if (!verified)
    return Error::BadSignature("attestation signature does not verify with the given key")
        .File(source)
        .Expected("a signature by key " + key.Hint());

  // Only now, over signed bytes, is the statement worth reading.
  ojson st = ojson::parse(payload, nullptr, false);
  if (st.is_discarded() || !st.is_object()) return bad("payload");
  if (st.value("_type", "") != signing::kStatementType) return bad("payload._type");
  if (st.value("predicateType", "") != kGpuCheckPredicateType)
    return Error::Unsupported("attestation of another kind")
        .File(source)
        .Field("predicateType")
        .Expected(std::string(kGpuCheckPredicateType))
        .Found(st.value("predicateType", std::string("(missing)")));
  if (!st.contains("subject") || !st["subject"].is_array()) return bad("payload.subject");
  for (const auto& s : st["subject"]) {
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string() || !s.contains("digest") ||
        !s["digest"].is_object() || !s["digest"].contains("sha256") ||
        !s["digest"]["sha256"].is_string())
      return bad("payload.subject[]");
    out.subjects.push_back(
        {s["name"].get<std::string>(), s["digest"]["sha256"].get<std::string>()});
  }
  std::sort(out.subjects.begin(), out.subjects.end(),
            [](const Subject& a, const Subject& b) { return a.name < b.name; });
  out.predicate = st.contains("predicate") ? st["predicate"] : ojson::object();
  for (const auto& want : expected) {
    auto it = std::find_if(out.subjects.begin(), out.subjects.end(),
                           [&](const Subject& s) { return s.name == want.name; });
    if (it == out.subjects.end())
      return Error::Mismatch("the attestation does not cover this file")
          .File(source)
          .Field(want.name)
          .Expected(Describe(want))
          .Found("(not a subject)");
    if (it->sha256 != want.sha256)
      return Error::Mismatch("the attested digest differs from the artifact's")
          .File(source)
          .Field(want.name)
          .Expected(Describe(want))
          .Found(Describe(*it));
  }
  if (out.subjects.size() != expected.size())
    return Error::Mismatch("the attestation names files the artifact does not hold")
        .File(source)
        .Expected(std::to_string(expected.size()) + " subjects")
        .Found(std::to_string(out.subjects.size()));
  return out;
}

Result<std::vector<std::string>> PackageAttestations(const std::string& path) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(path));
  WG_ASSIGN_OR_RETURN(oci::Manifest m, reader->ReadManifest());
  std::vector<std::string> out;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].media_type != oci::kWeightgateAttestation) continue;
    WG_ASSIGN_OR_RETURN(
        std::string text,
        reader->ReadVerified(m.layers[i], "layer " + std::to_string(i) + " (attestation)"));
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace wg::verify
