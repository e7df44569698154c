#include "weightgate/policy/seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "weightgate/core/file.h"
#include "weightgate/policy/chunked_aead.h"
#include "weightgate/policy/policy.h"

namespace wg::policy {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

Result<Digest> HashFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(auto m, MappedFile::Open(path));
  return HashBytes(HashAlgo::kSha256, m->bytes());
}

Result<RecipientKey> PublisherAsRecipient(const signing::EcKey& publisher) {
  EVP_PKEY* dup = EVP_PKEY_dup(publisher.pkey());
  if (!dup) return Error::Io("cannot copy the publisher key");
  return RecipientKey::FromPkey(dup, publisher.has_private(), "publisher key");
}

std::string GatingJson(const Gating& g) {
  json j;
  j["weightgate_gating"] = 1;
  j["package"] = g.package;
  j["policy_digest"] = g.policy_digest.Prefixed();
  j["publisher"] = g.publisher_pem;
  j["publisher_key"] = {{"algo", g.publisher_key.algo},
                        {"recipient", g.publisher_key.recipient},
                        {"ephemeral", Base64(g.publisher_key.ephemeral)},
                        {"wrapped", Base64(g.publisher_key.wrapped)}};
  j["cipher"] = "AES-256-GCM chunked (weightgate/v1)";
  j["files"] = json::array();
  for (const auto& f : g.files)
    j["files"].push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  return j.dump(2) + "\n";
}

// Paths inside a sealed folder come from gating.json: refuse anything that could escape.
bool SafeRelative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p))
    if (part == ".." || part == ".") return false;
  return true;
}

Result<Key256> PublisherContentKey(const Gating& g, const signing::EcKey& publisher) {
  if (g.publisher_pem != publisher.PublicPem())
    return Error::Untrusted("this key is not the publisher key of the sealed release")
        .Field("--publisher-key");
  WG_ASSIGN_OR_RETURN(RecipientKey pk, PublisherAsRecipient(publisher));
  return UnwrapContentKey(g.publisher_key, pk, g.policy_digest);
}

// The policy travels with the release byte for byte.
Status CopySmallFile(const std::string& from, const std::string& to) {
  WG_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(from));
  return WriteFileAtomically(to, bytes);
}

// The finished folder appears whole, never over something that appeared meanwhile.
Status MoveFolderIntoPlace(const std::string& tmp, const std::string& out_dir) {
  FileSystem& fsys = FileSystem::Default();
  WG_TRY(fsys.SyncDir(tmp));
  WG_TRY(fsys.RenameNoReplace(tmp, out_dir));
  std::string parent = fs::path(out_dir).parent_path().string();
  return fsys.SyncDir(parent.empty() ? "." : parent);
}

}  // namespace

Result<Gating> ReadGating(const std::string& dir) {
  std::string path = (fs::path(dir) / kGatingFile).string();
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 16 << 20));
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Error::Malformed(std::string("not JSON: ") + e.what()).File(path);
  }
  Gating g;
  try {
    if (j.at("weightgate_gating") != 1)
      return Error::Unsupported("unknown gating version").File(path).Field("weightgate_gating");
    g.package = j.at("package").get<std::string>();
    auto d = Digest::Parse(j.at("policy_digest").get<std::string>());
    if (!d.ok()) return Error::Malformed("bad digest").File(path).Field("policy_digest");
    g.policy_digest = *d;
    g.publisher_pem = j.at("publisher").get<std::string>();
    const json& pk = j.at("publisher_key");
    g.publisher_key.algo = pk.at("algo").get<std::string>();
    g.publisher_key.recipient = pk.at("recipient").get<std::string>();
    WG_ASSIGN_OR_RETURN(g.publisher_key.ephemeral,
                        FromBase64(pk.at("ephemeral").get<std::string>()));
    WG_ASSIGN_OR_RETURN(g.publisher_key.wrapped, FromBase64(pk.at("wrapped").get<std::string>()));
    for (const auto& f : j.at("files")) {
      SealedFile s{f.at("path").get<std::string>(), f.at("size").get<uint64_t>(),
                   f.at("sha256").get<std::string>()};
      if (!SafeRelative(s.path))
        return Error::Unsafe("file path escapes the folder")
            .File(path)
            .Field("files")
            .Found(s.path);
      g.files.push_back(std::move(s));
    }
  } catch (const json::exception& e) {
    return Error::Malformed(std::string("gating record: ") + e.what()).File(path);
  }
  return g;
}

Status SealFolder(const std::string& model_dir, const std::string& policy_file,
                  const std::string& out_dir, const signing::EcKey& publisher,
                  const SealOptions& opt, int64_t now) {
  std::error_code ec;
  if (fs::exists(out_dir, ec)) return Error::Usage("output folder already exists").File(out_dir);
  WG_ASSIGN_OR_RETURN(Policy pol, ReadPolicyFile(policy_file));
  if (pol.tier != Tier::kGated && pol.tier != Tier::kClosed)
    return Error::Usage("only gated and closed releases are encrypted")
        .File(policy_file)
        .Field("tier")
        .Found(std::string(TierName(pol.tier)));
  std::vector<RecipientKey> recipients;
  for (const auto& r : opt.recipient_pubs) {
    WG_ASSIGN_OR_RETURN(auto k, RecipientKey::ReadPublicKeyFile(r));
    recipients.push_back(std::move(k));
  }
  std::optional<int64_t> expires = opt.expires;
  if (pol.access && pol.access->grant_max_lifetime_days) {
    int64_t max = now + int64_t(*pol.access->grant_max_lifetime_days) * 86400;
    if (!expires) expires = max;
    if (*expires > max)
      return Error::Usage("expiry exceeds the policy's grant_max_lifetime")
          .Field("--expires")
          .Found(FormatUtcTime(*expires));
  }

  Gating g;
  g.package = opt.package.empty() ? fs::path(model_dir).filename().string() : opt.package;
  WG_ASSIGN_OR_RETURN(g.policy_digest, HashFile(policy_file));
  g.publisher_pem = publisher.PublicPem();
  WG_ASSIGN_OR_RETURN(Key256 content_key, RandomKey());
  Key256 payload = DerivePayloadKey(content_key, g.policy_digest);

  // Build in a temporary sibling folder, then rename: all or nothing.
  FileSystem& fsys = FileSystem::Default();
  std::string tmp = out_dir + ".wg-tmp";
  (void)fsys.RemoveAll(tmp);
  auto cleanup = [&] {
    OPENSSL_cleanse(content_key.data(), content_key.size());
    OPENSSL_cleanse(payload.data(), payload.size());
    (void)fsys.RemoveAll(tmp);
  };
  auto run = [&]() -> Status {
    WG_TRY(CreateDirs(tmp + "/grants", fsys));
    WG_ASSIGN_OR_RETURN(RecipientKey pk, PublisherAsRecipient(publisher));
    WG_ASSIGN_OR_RETURN(g.publisher_key, WrapContentKey(content_key, pk, g.policy_digest));
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(model_dir, ec);
         it != fs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file()) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string rel = fs::relative(f, model_dir).string();
      WG_TRY(CreateDirs((fs::path(tmp) / rel).parent_path().string(), fsys));
      WG_ASSIGN_OR_RETURN(auto src, MappedFile::Open(f.string()));
      WG_ASSIGN_OR_RETURN(auto dst,
                          AtomicFile::Create((fs::path(tmp) / (rel + ".wgenc")).string()));
      WG_TRY(EncryptStream(src->bytes(), payload, *dst,
                           opt.chunk_size ? opt.chunk_size : kDefaultChunkSize));
      WG_TRY(dst->Commit());
      g.files.push_back({rel, src->size(), HashBytes(HashAlgo::kSha256, src->bytes()).Hex()});
    }
    WG_TRY(CopySmallFile(policy_file, (fs::path(tmp) / kPolicyFile).string()));
    WG_TRY(WriteFileAtomically((fs::path(tmp) / kGatingFile).string(), GatingJson(g)));
    for (size_t i = 0; i < recipients.size(); ++i) {
      WG_ASSIGN_OR_RETURN(Grant gr, IssueGrant(content_key, recipients[i], g.policy_digest,
                                               g.package, expires, publisher, now));
      std::string name = fs::path(opt.recipient_pubs[i]).stem().string() + ".grant";
      WG_TRY(WriteFileAtomically((fs::path(tmp) / "grants" / name).string(), GrantToJson(gr)));
    }
    return MoveFolderIntoPlace(tmp, out_dir);
  };
  Status s = run();
  cleanup();
  return s;
}

Result<Grant> GrantAccess(const std::string& sealed_dir, const signing::EcKey& publisher,
                          const RecipientKey& recipient, std::optional<int64_t> expires,
                          int64_t now) {
  WG_ASSIGN_OR_RETURN(Gating g, ReadGating(sealed_dir));
  std::string policy_path = (fs::path(sealed_dir) / kPolicyFile).string();
  WG_ASSIGN_OR_RETURN(Digest pd, HashFile(policy_path));
  if (!(pd == g.policy_digest))
    return Error::Mismatch("the policy differs from the one the release was sealed with")
        .File(policy_path)
        .Expected(g.policy_digest.Prefixed())
        .Found(pd.Prefixed());
  WG_ASSIGN_OR_RETURN(Policy pol, ReadPolicyFile(policy_path));
  if (pol.access && pol.access->grant_max_lifetime_days) {
    int64_t max = now + int64_t(*pol.access->grant_max_lifetime_days) * 86400;
    if (!expires) expires = max;
    if (*expires > max)
      return Error::Usage("expiry exceeds the policy's grant_max_lifetime (P" +
                          std::to_string(*pol.access->grant_max_lifetime_days) + "D)")
          .Field("--expires")
          .Found(FormatUtcTime(*expires));
  }
  WG_ASSIGN_OR_RETURN(Key256 ck, PublisherContentKey(g, publisher));
  auto grant = IssueGrant(ck, recipient, g.policy_digest, g.package, expires, publisher, now);
  OPENSSL_cleanse(ck.data(), ck.size());
  return grant;
}

Status UnsealFolder(const std::string& sealed_dir, const std::string& out_dir,
                    const RecipientKey& identity, const std::string& grant_file, int64_t now) {
  std::error_code ec;
  if (fs::exists(out_dir, ec)) return Error::Usage("output folder already exists").File(out_dir);
  WG_ASSIGN_OR_RETURN(Gating g, ReadGating(sealed_dir));
  std::string policy_path = (fs::path(sealed_dir) / kPolicyFile).string();
  WG_ASSIGN_OR_RETURN(Digest pd, HashFile(policy_path));
  if (!(pd == g.policy_digest))
    return Error::Mismatch(
               "the policy differs from the one the release was sealed with (swapped or edited)")
        .File(policy_path)
        .Expected(g.policy_digest.Prefixed())
        .Found(pd.Prefixed());
  WG_ASSIGN_OR_RETURN(auto publisher, signing::EcKey::LoadPublicPem(g.publisher_pem));
  WG_ASSIGN_OR_RETURN(Grant grant, ReadGrantFile(grant_file));
  WG_ASSIGN_OR_RETURN(Key256 ck, OpenGrant(grant, identity, publisher, g.policy_digest, g.package,
                                           now, grant_file));
  Key256 payload = DerivePayloadKey(ck, g.policy_digest);
  OPENSSL_cleanse(ck.data(), ck.size());

  FileSystem& fsys = FileSystem::Default();
  std::string tmp = out_dir + ".wg-tmp";
  (void)fsys.RemoveAll(tmp);
  auto run = [&]() -> Status {
    WG_TRY(fsys.CreateDir(tmp));
    for (const auto& f : g.files) {
      WG_TRY(CreateDirs((fs::path(tmp) / f.path).parent_path().string(), fsys));
      std::string enc = (fs::path(sealed_dir) / (f.path + ".wgenc")).string();
      WG_ASSIGN_OR_RETURN(auto src, MappedFile::Open(enc));
      WG_ASSIGN_OR_RETURN(auto dst, AtomicFile::Create((fs::path(tmp) / f.path).string()));
      WG_TRY(DecryptStream(src->bytes(), payload, enc, *dst));
      if (dst->Size() != f.size)
        return Error::Mismatch("decrypted size differs from the gating record")
            .File(enc)
            .Expected(std::to_string(f.size))
            .Found(std::to_string(dst->Size()));
      WG_TRY(dst->Commit());
      WG_ASSIGN_OR_RETURN(Digest d, HashFile((fs::path(tmp) / f.path).string()));
      if (d.Hex() != f.sha256)
        return Error::Mismatch("decrypted file differs from the sealed digest")
            .File(f.path)
            .Expected(f.sha256)
            .Found(d.Hex());
    }
    WG_TRY(CopySmallFile(policy_path, (fs::path(tmp) / kPolicyFile).string()));
    return MoveFolderIntoPlace(tmp, out_dir);
  };
  Status s = run();
  OPENSSL_cleanse(payload.data(), payload.size());
  if (!s.ok()) (void)fsys.RemoveAll(tmp);  // no plaintext left behind
  return s;
}

}  // namespace wg::policy
