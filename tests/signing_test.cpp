// OMS signing: round trips, and a signed folder under >= 1000 seeded random mutations, each
// refused for the right reason (named file, or the right error class / exit code).
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "support/test_util.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/model_hashing.h"
#include "weightgate/signing/oms.h"
#include "weightgate/signing/statement.h"

namespace wg::signing {
namespace {

namespace fs = std::filesystem;
using test::ReadAll;
using test::RunCli;
using test::TempDir;
using test::WriteAll;
using test::WriteText;

// A copy of the example model plus a nested and an empty file.
void MakeModel(const fs::path& dst) {
  fs::create_directories(dst);
  for (auto& e : fs::directory_iterator(test::SourcePath("examples/models/stories260K")))
    fs::copy_file(e.path(), dst / e.path().filename());
  fs::create_directories(dst / "extra");
  WriteText((dst / "extra" / "notes.txt").string(), "tokenizer notes\n");
  WriteText((dst / "extra" / "empty.bin").string(), "");
}

EcKey Key(Curve c = Curve::kP256) {
  return EcKey::Generate(c).value();
}

TEST(Manifest, NamesAndOrderFollowModelSigning) {
  EXPECT_TRUE(PathLess("a/b", "a b"));  // component-wise: "a" < "a b"
  EXPECT_TRUE(PathLess("a/b", "a.b"));
  EXPECT_TRUE(PathLess("a b", "a-b"));
  EXPECT_FALSE(PathLess("a", "a"));
  EXPECT_EQ(*NormaliseResourcePath("./a//b/"), "a/b");
  EXPECT_EQ(NormaliseResourcePath("../x").error().code(), ErrorCode::kUnsafe);
  EXPECT_EQ(NormaliseResourcePath("/etc/passwd").error().code(), ErrorCode::kUnsafe);
  EXPECT_TRUE(IsIgnored(".git/HEAD", GitIgnorePaths()));
  EXPECT_FALSE(IsIgnored(".gitx", GitIgnorePaths()));
  Serialization s;
  s.method = SerializationMethod::kShards;
  s.shard_size = 1000;
  EXPECT_EQ(s.ResourceAlgorithm(), "sha256-sharded-1000");
}

TEST(Bundle, Base64AndPae) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(Base64Decode("Zm9=YmFy").ok());
  EXPECT_FALSE(Base64Decode("Zm9vYmF").ok());
  EXPECT_EQ(Pae("application/vnd.in-toto+json", "{}"),
            "DSSEv1 28 application/vnd.in-toto+json 2 {}");
}

TEST(Keys, CurvesHintsAndPassphrases) {
  for (Curve c : {Curve::kP256, Curve::kP384, Curve::kP521}) {
    EcKey k = Key(c);
    auto sig = k.Sign("message");
    ASSERT_TRUE(sig.ok());
    auto pub = EcKey::LoadPublicPem(k.PublicPem());
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(pub->curve(), c);
    EXPECT_TRUE(pub->Verify("message", *sig));
    EXPECT_FALSE(pub->Verify("massage", *sig));
    EXPECT_EQ(pub->Hint(), k.Hint());
    EXPECT_EQ(k.PublicPem().rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
    auto pem = k.PrivatePem(std::string("pw"));
    ASSERT_TRUE(pem.ok());
    EXPECT_NE(pem->find("ENCRYPTED PRIVATE KEY"), std::string::npos);
    EXPECT_EQ(EcKey::LoadPrivatePem(*pem, std::nullopt).error().code(), ErrorCode::kUsage);
    EXPECT_FALSE(EcKey::LoadPrivatePem(*pem, std::string("wrong")).ok());
    auto back = EcKey::LoadPrivatePem(*pem, std::string("pw"));
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->SamePublicKey(k));
  }
  // Ed25519 is not an OMS key.
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_EQ(EcKey::FromPkey(ed, true).error().code(), ErrorCode::kUnsupported);
}

TEST(Keygen, WritesPrivateKeyOwnerOnlyAndNeverOverwrites) {
  TempDir dir;
  auto r = RunCli({"keygen", "--algo", "ecdsa-p521", "-o", dir / "k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto perms = fs::status(dir / "k.key").permissions();
  EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  auto key = EcKey::ReadPrivateKeyFile(dir / "k.key", std::nullopt);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->curve(), Curve::kP521);
  auto before = ReadAll(dir / "k.key");
  EXPECT_EQ(RunCli({"keygen", "-o", dir / "k"}).exit_code, 2);
  EXPECT_EQ(ReadAll(dir / "k.key"), before);
  EXPECT_EQ(RunCli({"keygen", "--algo", "rsa-2048", "-o", dir / "r"}).exit_code, 2);
}

// ---- certificates --------------------------------------------------------------------------

struct Ca {
  EcKey key;
  X509* cert;
};

X509* MakeCert(const std::string& cn, const EcKey& subject_key, X509* issuer,
               const EcKey& issuer_key, bool ca, bool may_sign, long not_before_days,
               long not_after_days) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), std::random_device{}() & 0x7fffffff);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_days * 86400);
  X509_set_pubkey(x, subject_key.pkey());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign"
                        : (may_sign ? "critical,digitalSignature" : "critical,keyEncipherment"));
  X509_sign(x, issuer_key.pkey(), EVP_sha256());
  return x;
}

Certificate Der(X509* x) {
  Certificate c;
  int n = i2d_X509(x, nullptr);
  c.der.resize(n);
  unsigned char* p = c.der.data();
  i2d_X509(x, &p);
  return c;
}

TEST(Certificates, ChainValidityAndKeyUsage) {
  TempDir dir;
  fs::path model = dir.path() / "m";
  MakeModel(model);
  EcKey root_key = Key(Curve::kP384), int_key = Key(), leaf_key = Key(Curve::kP384);
  X509* root = MakeCert("root", root_key, nullptr, root_key, true, false, -1, 30);
  X509* inter = MakeCert("intermediate", int_key, root, root_key, true, false, -1, 30);
  X509* leaf = MakeCert("signer", leaf_key, inter, int_key, false, true, -1, 30);
  X509* expired = MakeCert("expired signer", leaf_key, inter, int_key, false, true, -30, -1);
  X509* no_sign = MakeCert("encipher only", leaf_key, inter, int_key, false, false, -1, 30);
  EcKey other_root_key = Key();
  X509* other_root =
      MakeCert("other root", other_root_key, nullptr, other_root_key, true, false, -1, 30);

  auto sign_with = [&](X509* l, std::vector<Certificate> chain_tail) {
    Signer s{&leaf_key, {Der(l)}};
    s.certificates.insert(s.certificates.end(), chain_tail.begin(), chain_tail.end());
    return SignModelFolder(model.string(), s, {});
  };
  auto verify = [&](X509* trust_root) {
    TrustPolicy t;
    t.roots = {Der(trust_root)};
    return VerifyModelFolder(model.string(), t, {});
  };
  ASSERT_TRUE(sign_with(leaf, {Der(inter)}).ok());
  auto ok = verify(root);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_TRUE(ok->diff.empty());
  EXPECT_EQ(ok->signature.signer, "CN=signer");
  EXPECT_EQ(verify(other_root).error().code(), ErrorCode::kUntrusted);
  // An intermediate is not a trust anchor by itself.
  EXPECT_EQ(verify(inter).error().code(), ErrorCode::kUntrusted);

  ASSERT_TRUE(sign_with(leaf, {}).ok());  // intermediate missing from the bundle
  EXPECT_EQ(verify(root).error().code(), ErrorCode::kUntrusted);
  ASSERT_TRUE(sign_with(expired, {Der(inter)}).ok());
  auto e = verify(root);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kUntrusted);
  EXPECT_NE(e.error().message().find("expired"), std::string::npos) << e.error().ToString();
  ASSERT_TRUE(sign_with(no_sign, {Der(inter)}).ok());
  auto u = verify(root);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code(), ErrorCode::kUntrusted);
  EXPECT_NE(u.error().message().find("may not sign"), std::string::npos);

  // The certificate must be for the signing key.
  EcKey stranger = Key(Curve::kP384);
  Signer wrong{&stranger, {Der(leaf)}};
  EXPECT_EQ(SignModelFolder(model.string(), wrong, {}).error().code(), ErrorCode::kUsage);

  // A key-method bundle cannot satisfy a certificate trust root.
  Signer by_key{&leaf_key, {}};
  ASSERT_TRUE(SignModelFolder(model.string(), by_key, {}).ok());
  EXPECT_EQ(verify(root).error().code(), ErrorCode::kUntrusted);
  for (X509* x : {root, inter, leaf, expired, no_sign, other_root}) X509_free(x);
}

// ---- the tamper campaign -------------------------------------------------------------------

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.path() / "stories260K";
    MakeModel(model_);
    for (auto& e : fs::recursive_directory_iterator(model_))
      if (e.is_regular_file())
        originals_[e.path().lexically_relative(model_).generic_string()] =
            ReadAll(e.path().string());
  }

  // Puts the folder back exactly as signed (files, names, no additions).
  void Restore() {
    for (auto& e : fs::recursive_directory_iterator(model_)) {
      if (!e.is_regular_file()) continue;
      std::string name = e.path().lexically_relative(model_).generic_string();
      if (!originals_.count(name) && name != "model.sig") fs::remove(e.path());
    }
    for (const auto& [name, bytes] : originals_) {
      fs::path p = model_ / name;
      if (!fs::exists(p) || fs::file_size(p) != bytes.size() || ReadAll(p.string()) != bytes)
        WriteAll(p.string(), bytes);
    }
  }

  TempDir dir_;
  fs::path model_;
  std::map<std::string, std::vector<uint8_t>> originals_;
};

TEST_F(Tamper, ThousandRandomMutationsAreAllRefusedForTheRightReason) {
  EcKey key = Key(Curve::kP384), other = Key(Curve::kP384);
  TrustPolicy trust;
  auto pub = EcKey::LoadPublicPem(key.PublicPem());
  ASSERT_TRUE(pub.ok());
  trust.public_key = &*pub;

  // Two signatures of the same folder: per file, and per 64 KiB shard.
  std::string files_sig = (dir_.path() / "files.sig").string();
  std::string shards_sig = (dir_.path() / "shards.sig").string();
  FolderSignOptions fo;
  fo.signature_path = files_sig;
  ASSERT_TRUE(SignModelFolder(model_.string(), {&key, {}}, fo).ok());
  FolderSignOptions so = fo;
  so.signature_path = shards_sig;
  so.serialization.method = SerializationMethod::kShards;
  so.serialization.shard_size = 65536;
  ASSERT_TRUE(SignModelFolder(model_.string(), {&key, {}}, so).ok());
  const std::string files_bundle = *ReadSmallFile(files_sig),
                    shards_bundle = *ReadSmallFile(shards_sig);

  std::vector<std::string> names;
  for (const auto& [n, b] : originals_) names.push_back(n);
  std::mt19937_64 rng(20260401);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  int checked = 0;
  auto expect_content =
      [&](const std::string& sig, const std::string& what, const std::vector<std::string>& missing,
          const std::vector<std::string>& extra, const std::string& modified_file) {
        FolderVerifyOptions vo;
        vo.signature_path = sig;
        auto r = VerifyModelFolder(model_.string(), trust, vo);
        ASSERT_TRUE(r.ok()) << what << ": " << r.error().ToString();
        ASSERT_FALSE(r->diff.empty()) << what << " was accepted";
        bool shards = sig == shards_sig;
        if (!shards) {
          EXPECT_EQ(r->diff.missing, missing) << what;
          EXPECT_EQ(r->diff.extra, extra) << what;
          if (!modified_file.empty()) {
            EXPECT_EQ(r->diff.modified, std::vector<std::string>{modified_file}) << what;
          }
        } else {
          // Shard names carry offsets; every reported name must belong to the tampered files.
          auto owned = [&](const std::string& n) {
            for (const auto& f : missing)
              if (n.rfind(f + ":", 0) == 0) return true;
            for (const auto& f : extra)
              if (n == f || n.rfind(f + ":", 0) == 0) return true;
            return !modified_file.empty() && n.rfind(modified_file + ":", 0) == 0;
          };
          for (const auto* v : {&r->diff.missing, &r->diff.extra, &r->diff.modified})
            for (const auto& n : *v) EXPECT_TRUE(owned(n)) << what << ": unexpected " << n;
        }
        ++checked;
      };

  for (int round = 0; round < 900; ++round) {
    const std::string& sig = (round & 1) ? shards_sig : files_sig;
    std::string name = names[pick(names.size())];
    fs::path p = model_ / name;
    std::vector<uint8_t> bytes = originals_[name];
    int kind = static_cast<int>(pick(8));
    std::string what =
        "round " + std::to_string(round) + " kind " + std::to_string(kind) + " " + name;
    if (bytes.empty() && kind < 4) kind = 4;  // nothing to flip or truncate in an empty file
    switch (kind) {
      case 0:
      case 1:
      case 2: {  // bit flip at the start, middle or end
        size_t n = bytes.size(), w = std::min<size_t>(n, 64);
        size_t base = kind == 0 ? 0 : kind == 1 ? n / 2 - std::min(n / 2, w / 2) : n - w;
        size_t i = base + pick(w);
        bytes[i] ^= static_cast<uint8_t>(1u << pick(8));
        WriteAll(p.string(), bytes);
        expect_content(sig, what + " flip@" + std::to_string(i), {}, {}, name);
        break;
      }
      case 3: {  // truncation
        bytes.resize(pick(bytes.size()));
        WriteAll(p.string(), bytes);
        if (sig == files_sig || !bytes.empty())
          expect_content(sig, what + " truncate", {}, {}, name);
        else
          expect_content(sig, what + " truncate to empty", {name}, {}, "");
        break;
      }
      case 4: {  // appended bytes
        size_t n = 1 + pick(100);
        for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(rng()));
        WriteAll(p.string(), bytes);
        if (sig == files_sig || !originals_[name].empty())
          expect_content(sig, what + " append", {}, {}, name);
        else
          expect_content(sig, what + " fill empty", {}, {name}, "");
        break;
      }
      case 5: {  // removal
        fs::remove(p);
        bool shardless = sig == shards_sig && originals_[name].empty();
        if (shardless) break;  // an empty file has no shard, so shards cannot miss it
        expect_content(sig, what + " remove", {name}, {}, "");
        break;
      }
      case 6: {  // rename
        std::string to = name + ".renamed" + std::to_string(pick(1000));
        fs::rename(p, model_ / to);
        if (sig == shards_sig && originals_[name].empty()) break;
        expect_content(sig, what + " rename", {name}, {to}, "");
        break;
      }
      case 7: {  // a new file
        std::string added =
            pick(2) ? "extra/added" + std::to_string(round) : "new" + std::to_string(round);
        WriteText((model_ / added).string(), std::string(1 + pick(50), 'x'));
        expect_content(sig, what + " add " + added, {}, {added}, "");
        break;
      }
    }
    Restore();
  }
  // The folder is back as signed.
  for (const auto& sig : {files_sig, shards_sig}) {
    FolderVerifyOptions vo;
    vo.signature_path = sig;
    auto r = VerifyModelFolder(model_.string(), trust, vo);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
  }

  // Bundle edits: structure (malformed), signed bytes (bad signature), signer (untrusted).
  auto verify_bundle_text = [&](const std::string& text) {
    WriteText(files_sig, text);
    FolderVerifyOptions vo;
    vo.signature_path = files_sig;
    return VerifyModelFolder(model_.string(), trust, vo);
  };
  auto expect_error = [&](const std::string& text, ErrorCode code, const std::string& what) {
    auto r = verify_bundle_text(text);
    ASSERT_FALSE(r.ok() && r->diff.empty()) << what << " was accepted";
    ASSERT_FALSE(r.ok()) << what << ": reported as content: " << r->diff.Describe();
    EXPECT_EQ(r.error().code(), code) << what << ": " << r.error().ToString();
    ++checked;
  };
  const nlohmann::json original = nlohmann::json::parse(files_bundle);
  const std::string payload = *Base64Decode(original["dsseEnvelope"]["payload"].get<std::string>());
  const auto sig_der =
      *Base64Decode(original["dsseEnvelope"]["signatures"][0]["sig"].get<std::string>());

  for (int round = 0; round < 120; ++round) {
    nlohmann::json b = original;
    std::string what = "bundle round " + std::to_string(round);
    switch (round % 12) {
      case 0: {  // one flipped bit anywhere in the signed payload
        std::string p = payload;
        p[pick(p.size())] ^= static_cast<char>(1 << pick(8));
        b["dsseEnvelope"]["payload"] = Base64Encode(p);
        expect_error(b.dump(), ErrorCode::kBadSignature, what + " payload bit");
        break;
      }
      case 1: {  // one flipped bit in the signature
        std::string s(sig_der.begin(), sig_der.end());
        s[pick(s.size())] ^= static_cast<char>(1 << pick(8));
        b["dsseEnvelope"]["signatures"][0]["sig"] = Base64Encode(s);
        expect_error(b.dump(), ErrorCode::kBadSignature, what + " sig bit");
        break;
      }
      case 2:
        b["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.2+json";
        expect_error(b.dump(), ErrorCode::kMalformed, what + " mediaType");
        break;
      case 3:
        b["dsseEnvelope"]["payloadType"] = "application/json";
        expect_error(b.dump(), ErrorCode::kBadSignature, what + " payloadType");
        break;
      case 4: {  // a resource digest swapped for another file's, statement re-encoded
        auto st = nlohmann::json::parse(payload);
        auto& res = st["predicate"]["resources"];
        std::swap(res[0]["digest"], res[1]["digest"]);
        b["dsseEnvelope"]["payload"] = Base64Encode(st.dump(2));
        expect_error(b.dump(), ErrorCode::kBadSignature, what + " swapped digests");
        break;
      }
      case 5:
        b["verificationMaterial"]["publicKey"]["hint"] = other.Hint();
        expect_error(b.dump(), ErrorCode::kMalformed, what + " hint of another key");
        break;
      case 6: {  // the statement signed by another key (its own hint, or the trusted one's)
        Bundle forged = *Bundle::Parse(files_bundle);
        forged.signature = *other.Sign(Pae(kInTotoPayloadType, forged.payload));
        forged.key_hint = other.Hint();
        expect_error(forged.ToJson(), ErrorCode::kUntrusted, what + " other key");
        forged.key_hint = key.Hint();
        expect_error(forged.ToJson(), ErrorCode::kBadSignature, what + " other key, trusted hint");
        break;
      }
      case 7: {  // a well-formed but truncated file
        std::string t = files_bundle.substr(0, pick(files_bundle.size()));
        expect_error(t, ErrorCode::kMalformed, what + " truncated bundle");
        break;
      }
      case 8:
        b["dsseEnvelope"]["signatures"] = nlohmann::json::array();
        expect_error(b.dump(), ErrorCode::kMalformed, what + " no signatures");
        break;
      case 9:
        b["dsseEnvelope"]["payload"] = "not base64!";
        expect_error(b.dump(), ErrorCode::kMalformed, what + " payload encoding");
        break;
      case 10:
        b["verificationMaterial"].erase("publicKey");
        expect_error(b.dump(), ErrorCode::kMalformed, what + " no verification material");
        break;
      case 11: {  // an attacker re-signs a changed statement with a key we do not trust
        auto st = nlohmann::json::parse(payload);
        st["predicate"]["resources"].erase(st["predicate"]["resources"].begin());
        Bundle forged = *Bundle::Parse(files_bundle);
        forged.payload = st.dump(2);
        forged.signature = *other.Sign(Pae(kInTotoPayloadType, forged.payload));
        forged.key_hint.reset();
        expect_error(forged.ToJson(), ErrorCode::kBadSignature, what + " re-signed, no hint");
        break;
      }
    }
  }
  // Signed by the trusted key but internally inconsistent: the root digest check catches it.
  {
    auto st = nlohmann::json::parse(payload);
    st["predicate"]["resources"][0]["digest"] = std::string(64, '0');
    Bundle forged = *Bundle::Parse(files_bundle);
    forged.payload = st.dump(2);
    forged.signature = *key.Sign(Pae(kInTotoPayloadType, forged.payload));
    expect_error(forged.ToJson(), ErrorCode::kMalformed, "inconsistent root digest");
  }
  EXPECT_GE(checked, 1000);
}

// The CLI maps each refusal to its documented exit code and names the files.
TEST_F(Tamper, CliExitCodes) {
  auto k = RunCli({"keygen", "-o", dir_ / "k"});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  ASSERT_EQ(RunCli({"keygen", "-o", dir_ / "o"}).exit_code, 0);
  std::string m = model_.string(), pub = dir_ / "k.pub";
  auto s = RunCli({"sign", m, "--key", dir_ / "k.key"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto ok = RunCli({"verify", m, "--pub", pub, "--json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto doc = nlohmann::json::parse(ok.out);
  EXPECT_TRUE(doc["ok"].get<bool>());
  EXPECT_EQ(doc["verified"], 7);

  auto bin = ReadAll((model_ / "tok512.bin").string());
  bin[bin.size() / 2] ^= 4;
  WriteAll((model_ / "tok512.bin").string(), bin);
  fs::remove(model_ / "LICENSE");
  WriteText((model_ / "extra" / "intruder.py").string(), "print('hi')\n");
  auto bad = RunCli({"verify", m, "--pub", pub});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("modified: tok512.bin"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("missing:  LICENSE"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("extra:    extra/intruder.py"), std::string::npos) << bad.err;
  auto j = RunCli({"verify", m, "--pub", pub, "--json"});
  EXPECT_EQ(j.exit_code, 1);
  auto jd = nlohmann::json::parse(j.out);
  EXPECT_EQ(jd["modified"], nlohmann::json::array({"tok512.bin"}));
  EXPECT_EQ(jd["missing"], nlohmann::json::array({"LICENSE"}));
  EXPECT_EQ(jd["extra"], nlohmann::json::array({"extra/intruder.py"}));
  Restore();
  fs::remove(model_ / "extra" / "intruder.py");

  EXPECT_EQ(RunCli({"verify", m, "--pub", dir_ / "o.pub"}).exit_code, 5);
  EXPECT_EQ(RunCli({"verify", m}).exit_code, 2);
  EXPECT_EQ(RunCli({"verify", m, "--pub", pub, "--trust-root", pub}).exit_code, 2);
  std::string sig = (model_ / "model.sig").string();
  auto text = *ReadSmallFile(sig);
  auto b = nlohmann::json::parse(text);
  std::string p = *Base64Decode(b["dsseEnvelope"]["payload"].get<std::string>());
  p[p.find("sha256")] = 'S';
  b["dsseEnvelope"]["payload"] = Base64Encode(p);
  WriteText(sig, b.dump());
  EXPECT_EQ(RunCli({"verify", m, "--pub", pub}).exit_code, 4);
  WriteText(sig, "{\"mediaType\": 3}");
  auto mal = RunCli({"verify", m, "--pub", pub, "--json"});
  EXPECT_EQ(mal.exit_code, 9);
  EXPECT_EQ(nlohmann::json::parse(mal.out)["error"]["code"], "malformed");
  fs::remove(sig);
  EXPECT_EQ(RunCli({"verify", m, "--pub", pub}).exit_code, 8);
}

}  // namespace
}  // namespace wg::signing
