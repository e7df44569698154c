// weightgate inspect PATH [--json]: what a model file, index, folder or package holds.
#include <cstdio>
#include <map>
#include <regex>

#include "cmd_package.h"
#include "command.h"
#include "weightgate/formats/inspect.h"
#include "weightgate/policy/policy.h"

namespace wg::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string Thousands(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

std::string ShapeText(const Json& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + shape[i].dump();
  return s + "]";
}

// A value on one line, cut to fit a terminal.
std::string Short(const Json& v, size_t max = 96) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

// Per-layer tensors of one dtype and shape folded into one row: blk.{0-31}.attn_q.weight.
struct Row {
  std::string name, dtype, shape;
  std::vector<uint64_t> layers;
};

std::vector<Row> CompactRows(const Json& tensors) {
  static const std::regex kLayer(R"(^(.*?[._])(\d+)([._].*)$)");
  std::vector<Row> rows;
  std::map<std::string, size_t> by_key;
  for (const Json& t : tensors) {
    const std::string name = t["name"], dtype = t["dtype"], shape = ShapeText(t["shape"]);
    std::smatch m;
    if (std::regex_match(name, m, kLayer)) {
      const std::string key = m[1].str() + "{N}" + m[3].str() + "|" + dtype + "|" + shape;
      auto it = by_key.find(key);
      if (it != by_key.end()) {
        rows[it->second].layers.push_back(std::stoull(m[2].str()));
        continue;
      }
      by_key[key] = rows.size();
      rows.push_back({m[1].str() + "{N}" + m[3].str(), dtype, shape, {std::stoull(m[2].str())}});
      continue;
    }
    rows.push_back({name, dtype, shape, {}});
  }
  for (Row& r : rows) {
    if (r.layers.empty()) continue;
    std::string range;
    uint64_t lo = r.layers.front(), hi = lo;
    bool contiguous = true;
    for (size_t i = 1; i < r.layers.size(); ++i) contiguous &= r.layers[i] == r.layers[i - 1] + 1;
    hi = r.layers.back();
    if (r.layers.size() == 1)
      range = std::to_string(lo);
    else if (contiguous)
      range = "{" + std::to_string(lo) + "-" + std::to_string(hi) + "}";
    else
      range = "{" + std::to_string(r.layers.size()) + " indices}";
    r.name.replace(r.name.find("{N}"), 3, range);
  }
  return rows;
}

void PrintHuman(const Json& j) {
  std::printf("%s: %s, %s tensors, %s parameters, %s bytes of tensor data\n",
              j["path"].get<std::string>().c_str(), j["format"].get<std::string>().c_str(),
              Thousands(j["tensor_count"]).c_str(), Thousands(j["parameters"]).c_str(),
              Thousands(j["total_bytes"]).c_str());
  std::printf("files:\n");
  for (const Json& f : j["files"])
    std::printf("  %s (%s bytes)\n", f["path"].get<std::string>().c_str(),
                f["bytes"].is_null() ? "?" : Thousands(f["bytes"]).c_str());
  std::string dtypes;
  for (const auto& [name, count] : j["dtypes"].items())
    dtypes += (dtypes.empty() ? "" : ", ") + name + " x" + count.dump();
  std::printf("dtypes: %s\n", dtypes.empty() ? "-" : dtypes.c_str());

  const Json& lic = j["licence"];
  std::printf("licence:");
  bool any = false;
  for (const auto& [k, v] : lic["fields"].items()) {
    std::printf("\n  %s: %s", k.c_str(), Short(v).c_str());
    any = true;
  }
  if (lic.contains("model_card"))
    for (const auto& [k, v] : lic["model_card"].items()) {
      std::printf("\n  README.md %s: %s", k.c_str(), Short(v).c_str());
      any = true;
    }
  if (lic.contains("files"))
    for (const Json& f : lic["files"]) {
      std::printf("\n  %s: %s", f["path"].get<std::string>().c_str(),
                  Short(f["first_line"]).c_str());
      any = true;
    }
  std::printf("%s\n", any ? "" : " none found");

  if (!j["metadata"].empty()) {
    std::printf("metadata:\n");
    for (const auto& [k, v] : j["metadata"].items())
      std::printf("  %s: %s\n", k.c_str(), Short(v).c_str());
  }

  const std::vector<Row> rows = CompactRows(j["tensors"]);
  size_t w_name = 6, w_dtype = 5;
  for (const Row& r : rows) {
    w_name = std::max(w_name, r.name.size());
    w_dtype = std::max(w_dtype, r.dtype.size());
  }
  w_name = std::min<size_t>(w_name, 60);
  constexpr size_t kMaxRows = 60;
  std::printf("tensors:\n  %-*s  %-*s  %s\n", int(w_name), "NAME", int(w_dtype), "DTYPE", "SHAPE");
  for (size_t i = 0; i < rows.size() && i < kMaxRows; ++i) {
    const Row& r = rows[i];
    std::string count = r.layers.size() > 1 ? "  x" + std::to_string(r.layers.size()) : "";
    std::printf("  %-*s  %-*s  %s%s\n", int(w_name), r.name.c_str(), int(w_dtype), r.dtype.c_str(),
                r.shape.c_str(), count.c_str());
  }
  if (rows.size() > kMaxRows)
    std::printf("  ... %zu more rows (--json lists every tensor)\n", rows.size() - kMaxRows);
}

}  // namespace

// What a derivative made by `convert` records about its parent (docs/policy.md): the
// weightgate.* keys of GGUF metadata or safetensors __metadata__; null when there are none.
Json DerivativeJson(const Json& metadata) {
  const Json* m = &metadata;
  if (metadata.contains("__metadata__") && metadata["__metadata__"].is_object())
    m = &metadata["__metadata__"];
  auto text = [m](const char* key) -> std::string {
    auto it = m->find(key);
    return it != m->end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (text("weightgate.parent.digest").empty() && text("weightgate.policy").empty()) return nullptr;
  Json d;
  d["name"] = text("general.name");
  d["parent"] = {{"digest", text("weightgate.parent.digest")},
                 {"name", text("weightgate.parent.name")}};
  std::string yaml = text("weightgate.policy");
  if (yaml.empty()) {
    d["policy"] = nullptr;
    return d;
  }
  Json pol = {{"digest", text("weightgate.policy.digest")}};
  auto parsed = policy::ParsePolicy(yaml, "weightgate.policy");
  if (parsed.ok()) {
    pol["tier"] = std::string(policy::TierName(parsed->tier));
    pol["licence"] = parsed->licence.id;
  } else {
    pol["error"] = parsed.error().ToString();
  }
  pol["yaml"] = yaml;
  d["policy"] = pol;
  return d;
}

void PrintDerivative(const Json& d) {
  std::printf("derivative: %s of %s (%s)\n", d["name"].get<std::string>().c_str(),
              d["parent"]["name"].get<std::string>().c_str(),
              d["parent"]["digest"].get<std::string>().c_str());
  if (d["policy"].is_null()) {
    std::printf("  policy: not inherited\n");
  } else if (d["policy"].contains("tier")) {
    std::printf("  policy: inherited, tier %s, licence %s (%s)\n",
                d["policy"]["tier"].get<std::string>().c_str(),
                d["policy"]["licence"].get<std::string>().c_str(),
                d["policy"]["digest"].get<std::string>().c_str());
  } else {
    std::printf("  policy: inherited but unreadable: %s\n",
                d["policy"]["error"].get<std::string>().c_str());
  }
}

void RegisterInspect(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd =
      app.add_subcommand("inspect", "Show what a model file, index, folder or package holds");
  struct Options {
    std::string path, tokenizer;
    bool json = false;
    InspectTrust trust;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("PATH", opts->path,
                  "safetensors file or index, GGUF, PyTorch checkpoint, llama2.c checkpoint, "
                  "or a folder holding one model")
      ->required();
  cmd->add_flag("--json", opts->json, "Print one JSON document listing every tensor");
  auto* pub = cmd->add_option("--pub", opts->trust.pub,
                              "A package: verify its signature with this public key (PEM)");
  cmd->add_option("--trust-root", opts->trust.trust_roots,
                  "A package: verify its signature's certificate chain to these CAs (PEM)")
      ->expected(1, -1)
      ->excludes(pub);
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "llama2.c: tokenizer file to use instead of the one found beside (- for none)");
  cmd->footer(
      "Prints the format, files, tensors (dtype and shape; per-layer tensors folded into one "
      "row), parameter count, total bytes, metadata and any licence information (GGUF "
      "general.license*, safetensors metadata, a LICENSE file or model card beside).\n\n"
      "Examples:\n"
      "  weightgate inspect stories260K.bin\n"
      "  weightgate inspect model.gguf --json | jq '.tensors[] | select(.dtype == \"Q8_0\")'\n"
      "  weightgate inspect ./Llama-3.2-1B/        # a folder: index, shards, tokenizer\n"
      "  weightgate inspect model.tar              # a package: layers, digests, model config\n"
      "  weightgate inspect model.tar --pub release.pub   # ... and its signature verified");
  (void)global;
  cmd->callback([run, opts] {
    *run = [opts]() -> int {
      if (IsPackage(opts->path)) return InspectPackageVerb(opts->path, opts->json, opts->trust);
      if (!opts->trust.pub.empty() || !opts->trust.trust_roots.empty())
        return ReportError(Error::Usage("--pub and --trust-root apply to packages only")
                               .File(opts->path)
                               .Expected("weightgate verify for a model folder"));
      auto cat = OpenCatalog(opts->path, OpenOptions{opts->tokenizer});
      if (!cat.ok()) return ReportError(cat.error());
      Json j = InspectJson(*cat, opts->path);
      Json derivative = DerivativeJson(j["metadata"]);
      if (!derivative.is_null()) j["derivative"] = derivative;
      if (opts->json) {
        std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
      } else {
        PrintHuman(j);
        if (!derivative.is_null()) PrintDerivative(derivative);
      }
      return kExitOk;
    };
  });
}

}  // namespace wg::cli
