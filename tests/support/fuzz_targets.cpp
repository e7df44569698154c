// Fuzz target bodies. Readers that only take a path get the input through a memfd
// (/proc/self/fd/N): no public API changes, no disk traffic, a few microseconds per run.
#include "fuzz_targets.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pickle_machine.h"
#include "pickle_scanner.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/pytorch.h"
#include "weightgate/formats/safetensors.h"
#include "weightgate/package/oci_layout.h"
#include "weightgate/package/package.h"
#include "weightgate/policy/catalogue.h"
#include "weightgate/policy/evaluate.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/policy.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/statement.h"

namespace wg::fuzz {
namespace {

// The input as a file that any path-taking reader can open; closed when it goes.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("wg-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) return;
    size_t done = 0;
    while (done < size) {
      ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

std::string_view Text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

int Safetensors(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (f.ok()) (void)ReadSafetensors(f.path());
  return 0;
}

int Gguf(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (!f.ok()) return 0;
  auto g = ReadGguf(f.path());
  if (g.ok())
    for (const auto& kv : g->kvs) (void)kv.value.ToJson(16);
  return 0;
}

int Pickle(const uint8_t* data, size_t size) {
  Bytes bytes(data, size);
  pickle::MachineLimits limits;
  limits.max_objects = 100'000;  // keeps a run short; the real limits only scale this
  limits.max_memo = 100'000;
  (void)pickle::Unpickle(bytes, "fuzz.pkl", limits);
  std::vector<PickleGlobal> globals;
  (void)pickle::ScanOne(bytes, 0, "fuzz.pkl", "data.pkl", &globals);
  return 0;
}

int PytorchZip(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (!f.ok()) return 0;
  (void)ReadPyTorch(f.path());
  (void)ScanPickles(f.path());
  return 0;
}

int Llama2c(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (f.ok()) (void)ReadLlama2c(f.path(), "-");
  return 0;
}

int Llama2cTokenizer(const uint8_t* data, size_t size) {
  // The first two bytes pick the vocabulary size the caller expects (1..65536).
  if (size < 2) return 0;
  int32_t vocab = 1 + (data[0] | (data[1] << 8));
  MemFile f(data + 2, size - 2);
  if (f.ok()) (void)ReadLlama2cTokenizer(f.path(), vocab);
  return 0;
}

int OmsBundle(const uint8_t* data, size_t size) {
  auto b = signing::Bundle::Parse(Text(data, size));
  if (b.ok()) (void)signing::ManifestFromStatement(b->payload);
  // Statements are also parsed on their own (the payload is attacker-controlled too).
  (void)signing::ManifestFromStatement(Text(data, size));
  return 0;
}

int OciJson(const uint8_t* data, size_t size) {
  auto m = oci::Manifest::Parse(Text(data, size), "fuzz");
  if (m.ok()) (void)m->Serialize();
  auto i = oci::Index::Parse(Text(data, size), "fuzz");
  if (i.ok()) (void)i->Serialize();
  return 0;
}

int OciTar(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (!f.ok()) return 0;
  // Open (tar entries, oci-layout, index.json), ReadManifest, config, layer roles.
  (void)package::Inspect(f.path());
  return 0;
}

// What the parser accepted must print back into text it accepts again, unchanged: a policy
// that drifts on a round trip would be signed in one form and enforced in another.
void CheckRoundTrip(bool same, const char* what) {
  if (!same) {
    std::fprintf(stderr, "fuzz: %s did not round-trip\n", what);
    std::abort();
  }
}

int PolicyYaml(const uint8_t* data, size_t size) {
  std::string text(Text(data, size));
  auto p = policy::ParsePolicy(text, "fuzz.yaml");
  if (!p.ok()) return 0;
  (void)policy::ValidatePolicy(*p, "fuzz.yaml");
  (void)policy::ExplainPolicy(*p);
  std::string once = policy::PolicyToYaml(*p);
  auto again = policy::ParsePolicy(once, "fuzz-roundtrip.yaml");
  CheckRoundTrip(again.ok() && policy::PolicyToYaml(*again) == once, "policy YAML");
  policy::Context ctx;  // an empty context: every rule that needs a key denies, naming it
  (void)policy::Evaluate(*p, ctx);
  return 0;
}

int ContextYaml(const uint8_t* data, size_t size) {
  auto ctx = policy::ParseContext(std::string(Text(data, size)), "fuzz.yaml");
  if (!ctx.ok()) return 0;
  // Evaluated against every licence of the catalogue (the rules a context can reach).
  static const std::vector<policy::Policy> policies = [] {
    std::vector<policy::Policy> v;
    for (const auto& e : policy::Catalogue())
      if (auto p = policy::PolicyFromCatalogue(e.key); p.ok()) v.push_back(std::move(*p));
    return v;
  }();
  for (const auto& p : policies) (void)policy::Evaluate(p, *ctx);
  return 0;
}

int Grant(const uint8_t* data, size_t size) {
  std::string text(Text(data, size));
  (void)policy::ParseUtcTime(text.substr(0, 64));
  auto g = policy::ParseGrant(text, "fuzz.grant");
  if (!g.ok()) return 0;
  std::string once = policy::GrantToJson(*g);
  auto again = policy::ParseGrant(once, "fuzz-roundtrip.grant");
  CheckRoundTrip(
      again.ok() && policy::GrantToJson(*again) == once && again->SignedBytes() == g->SignedBytes(),
      "grant JSON");
  if (g->expires) (void)policy::FormatUtcTime(*g->expires);
  (void)policy::FormatUtcTime(g->issued);
  return 0;
}

const std::vector<Target>& AllTargets() {
  static const std::vector<Target> targets = {
      {"safetensors", Safetensors},
      {"gguf", Gguf},
      {"pickle", Pickle},
      {"pytorch_zip", PytorchZip},
      {"llama2c", Llama2c},
      {"llama2c_tokenizer", Llama2cTokenizer},
      {"oms_bundle", OmsBundle},
      {"oci_json", OciJson},
      {"oci_tar", OciTar},
      {"policy_yaml", PolicyYaml},
      {"context_yaml", ContextYaml},
      {"grant", Grant},
  };
  return targets;
}

}  // namespace wg::fuzz
