// weightgate.yaml: detection of a model folder's files and roles, and the YAML itself.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "weightgate/formats/safetensors.h"
#include "weightgate/package/package.h"

namespace wg::package {
namespace {

namespace fs = std::filesystem;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
bool EndsWith(const std::string& s, std::string_view suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
bool StartsWith(const std::string& s, std::string_view pre) {
  return s.rfind(pre, 0) == 0;
}

// The role of a file from its name alone. Order matters: tokenizer names before weight
// extensions (llama2.c's tok512.bin is a tokenizer), shard indexes before docs.
Role DetectRole(const std::string& rel) {
  std::string name = Lower(fs::path(rel).filename().string());
  std::string stem = Lower(fs::path(rel).stem().string());
  bool tok_digits = StartsWith(stem, "tok") && stem.size() > 3 &&
                    std::all_of(stem.begin() + 3, stem.end(), ::isdigit);
  if (StartsWith(name, "tokenizer") || tok_digits || EndsWith(name, ".model") ||
      name == "vocab.json" || name == "vocab.txt" || name == "merges.txt" ||
      name == "special_tokens_map.json" || EndsWith(name, ".tiktoken"))
    return Role::kTokenizer;
  if (StartsWith(name, "license") || StartsWith(name, "licence") || StartsWith(name, "copying") ||
      StartsWith(name, "notice"))
    return Role::kLicense;
  for (std::string_view ext : {".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".onnx",
                               ".h5", ".msgpack", ".npz"})
    if (EndsWith(name, ext)) return Role::kWeights;
  if (EndsWith(name, ".json") || EndsWith(name, ".yaml") || EndsWith(name, ".yml"))
    return Role::kConfig;
  for (std::string_view ext : {".py", ".sh", ".ipynb", ".c", ".cc", ".cpp", ".h", ".js", ".rs"})
    if (EndsWith(name, ext)) return Role::kCode;
  return Role::kDocs;  // README*, *.md, *.txt and anything else a human reads
}

std::string FormatFromName(const std::string& rel) {
  std::string name = Lower(rel);
  if (EndsWith(name, ".safetensors")) return "safetensors";
  if (EndsWith(name, ".gguf")) return "gguf";
  if (EndsWith(name, ".onnx")) return "onnx";
  if (EndsWith(name, ".pt") || EndsWith(name, ".pth") || EndsWith(name, ".ckpt")) return "pt";
  return "";
}

// "260K", "6.7B": ModelPack's paramSize.
std::string ParamSize(uint64_t n) {
  const char* suffix[] = {"", "K", "M", "B", "T"};
  double v = static_cast<double>(n);
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  if (v >= 100 || v == static_cast<double>(static_cast<uint64_t>(v)))
    std::snprintf(buf, sizeof buf, "%.0f%s", v, suffix[i]);
  else
    std::snprintf(buf, sizeof buf, "%.1f%s", v, suffix[i]);
  return buf;
}

std::string SpdxFromLicenceText(const std::string& file) {
  auto text = ReadSmallFile(file, 1 << 20);
  if (!text.ok()) return "";
  std::string head = text->substr(0, 400);
  if (head.find("MIT License") != std::string::npos) return "MIT";
  if (head.find("Apache License") != std::string::npos) return "Apache-2.0";
  if (head.find("BSD 3-Clause") != std::string::npos) return "BSD-3-Clause";
  if (head.find("BSD 2-Clause") != std::string::npos) return "BSD-2-Clause";
  if (head.find("GNU GENERAL PUBLIC LICENSE") != std::string::npos) return "";  // version unclear
  return "";
}

// What config.json (Hugging Face) says of the model.
void ReadHfConfig(const std::string& file, ModelInfo* m) {
  auto text = ReadSmallFile(file, 4 << 20);
  if (!text.ok()) return;
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    m->architecture = j["architectures"][0].get<std::string>();
  if (j.contains("model_type") && j["model_type"].is_string())
    m->family = j["model_type"].get<std::string>();
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string())
    m->precision = j["torch_dtype"].get<std::string>();
}

std::string PrecisionName(DType t) {
  switch (t) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    case DType::kF64:
      return "float64";
    case DType::kI8:
      return "int8";
    case DType::kF8E4M3:
      return "float8_e4m3";
    case DType::kF8E5M2:
      return "float8_e5m2";
    default:
      return Lower(std::string(Name(t)));
  }
}

template <typename T>
void Emit(YAML::Emitter& out, const char* key, const T& value) {
  out << YAML::Key << key << YAML::Value << value;
}

Result<std::string> Str(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) return Error::Malformed("expected a string").Field(where);
  return n.as<std::string>();
}

Status OnlyKeys(const YAML::Node& n, std::initializer_list<std::string_view> keys,
                const std::string& where, const std::string& file) {
  if (!n.IsMap()) return Error::Malformed("expected a mapping").File(file).Field(where);
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      return Error::Malformed("unknown key (typo?)")
          .File(file)
          .Field((where.empty() ? k : where + "." + k) + " (line " +
                 std::to_string(kv.first.Mark().line + 1) + ")");
  }
  return Ok();
}

}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kWeights:
      return "weights";
    case Role::kConfig:
      return "config";
    case Role::kTokenizer:
      return "tokenizer";
    case Role::kLicense:
      return "license";
    case Role::kDocs:
      return "docs";
    case Role::kCode:
      return "code";
    case Role::kDataset:
      return "dataset";
  }
  return "docs";
}

std::optional<Role> RoleFromName(std::string_view name) {
  for (Role r : {Role::kWeights, Role::kConfig, Role::kTokenizer, Role::kLicense, Role::kDocs,
                 Role::kCode, Role::kDataset})
    if (name == RoleName(r)) return r;
  if (name == "licence") return Role::kLicense;
  if (name == "doc") return Role::kDocs;
  if (name == "weight") return Role::kWeights;
  return std::nullopt;
}

std::string_view RoleMediaType(Role r) {
  switch (r) {
    case Role::kWeights:
      return oci::kModelWeightRaw;
    case Role::kConfig:
    case Role::kTokenizer:
      return oci::kModelWeightConfigRaw;  // ModelPack: config + tokenizer
    case Role::kLicense:
    case Role::kDocs:
      return oci::kModelDocRaw;  // ModelPack has no licence type
    case Role::kCode:
      return oci::kModelCodeRaw;
    case Role::kDataset:
      return oci::kModelDatasetRaw;
  }
  return oci::kModelDocRaw;
}

Status CheckRelativePath(const std::string& path) {
  if (path.empty()) return Error::Unsafe("empty file path");
  if (path.size() > 4096) return Error::Unsafe("file path too long");
  if (path[0] == '/') return Error::Unsafe("absolute file path refused").Found(path);
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return Error::Unsafe("control character in file path refused");
  if (path.find('\\') != std::string::npos)
    return Error::Unsafe("backslash in file path refused").Found(path);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view comp(path.data() + start, end - start);
    if (comp.empty()) return Error::Unsafe("empty component in file path refused").Found(path);
    if (comp == "..")
      return Error::Unsafe("'..' in file path refused (path traversal)").Found(path);
    if (comp == ".") return Error::Unsafe("'.' component in file path refused").Found(path);
    start = end + 1;
  }
  return Ok();
}

Result<PackageSpec> DetectSpec(const std::string& model_dir) {
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) return Error::Usage("not a folder").File(model_dir);
  PackageSpec spec;
  spec.name = fs::path(model_dir).lexically_normal().filename().string();
  if (spec.name.empty() || spec.name == ".")
    spec.name = fs::absolute(model_dir).lexically_normal().parent_path().filename().string();
  fs::recursive_directory_iterator it(model_dir, fs::directory_options::none, ec), end;
  if (ec) return Error::Io("cannot list folder: " + ec.message()).File(model_dir);
  for (; it != end; it.increment(ec)) {
    if (ec) return Error::Io("cannot list folder: " + ec.message()).File(model_dir);
    std::string fname = it->path().filename().string();
    if (!fname.empty() && fname[0] == '.') {  // .git, .cache, editor files
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (fname == "__pycache__") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;  // follows symlinks to files (HF caches use them)
    std::string rel = fs::relative(it->path(), model_dir).generic_string();
    if (rel == "weightgate.yaml") continue;
    spec.files.push_back({rel, DetectRole(rel), ""});
  }
  std::sort(spec.files.begin(), spec.files.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  uint64_t params = 0;
  std::set<std::string> precisions;
  for (const auto& f : spec.files) {
    std::string full = (fs::path(model_dir) / f.path).string();
    if (f.role == Role::kWeights && spec.model.format.empty())
      spec.model.format = FormatFromName(f.path);
    if (f.role == Role::kLicense && spec.license.empty()) spec.license = SpdxFromLicenceText(full);
    if (f.path == "config.json") ReadHfConfig(full, &spec.model);
    if (f.role == Role::kWeights && EndsWith(Lower(f.path), ".safetensors")) {
      auto cat = ReadSafetensors(full);
      if (cat.ok()) {
        params += cat->ParameterCount();
        for (const auto& t : cat->tensors) precisions.insert(PrecisionName(t.dtype));
      }
    }
  }
  if (params > 0) spec.model.param_size = ParamSize(params);
  if (spec.model.precision.empty() && !precisions.empty()) {
    for (const auto& p : precisions)
      spec.model.precision += (spec.model.precision.empty() ? "" : ",") + p;
  }
  if (spec.files.empty())
    return Error::Usage("the folder holds no files to package").File(model_dir);
  return spec;
}

std::string SpecToYaml(const PackageSpec& s) {
  YAML::Emitter out;
  out << YAML::Comment(
      "weightgate.yaml: what `weightgate pack` puts in the package (docs/package.md)");
  out << YAML::BeginMap;
  Emit(out, "manifestVersion", "1");
  out << YAML::Key << "package" << YAML::Value << YAML::BeginMap;
  Emit(out, "name", s.name);
  Emit(out, "version", s.version);
  Emit(out, "description", s.description);
  Emit(out, "license", s.license);
  out << YAML::Key << "authors" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& a : s.authors) out << a;
  out << YAML::EndSeq << YAML::EndMap;
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  Emit(out, "family", s.model.family);
  Emit(out, "architecture", s.model.architecture);
  Emit(out, "format", s.model.format);
  Emit(out, "paramSize", s.model.param_size);
  Emit(out, "precision", s.model.precision);
  Emit(out, "quantization", s.model.quantization);
  out << YAML::EndMap;
  out << YAML::Key << "files" << YAML::Value << YAML::BeginSeq;
  for (const auto& f : s.files) {
    out << YAML::BeginMap;
    Emit(out, "path", f.path);
    Emit(out, "role", RoleName(f.role));
    if (!f.description.empty()) Emit(out, "description", f.description);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<PackageSpec> LoadSpec(const std::string& yaml_path) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(yaml_path, 4 << 20));
  PackageSpec s;
  try {
    YAML::Node root = YAML::Load(text);
    WG_TRY(OnlyKeys(root, {"manifestVersion", "package", "model", "files"}, "", yaml_path));
    if (root["manifestVersion"] && root["manifestVersion"].as<std::string>() != "1")
      return Error::Unsupported("unknown manifestVersion").File(yaml_path).Expected("1");
    if (const auto& p = root["package"]) {
      WG_TRY(OnlyKeys(p, {"name", "version", "description", "license", "authors"}, "package",
                      yaml_path));
      if (p["name"]) s.name = p["name"].as<std::string>();
      if (p["version"]) s.version = p["version"].as<std::string>();
      if (p["description"]) s.description = p["description"].as<std::string>();
      if (p["license"]) s.license = p["license"].as<std::string>();
      if (const auto& a = p["authors"]) {
        if (!a.IsSequence())
          return Error::Malformed("expected a list").File(yaml_path).Field("package.authors");
        for (const auto& x : a) s.authors.push_back(x.as<std::string>());
      }
    }
    if (const auto& m = root["model"]) {
      WG_TRY(OnlyKeys(
          m, {"family", "architecture", "format", "paramSize", "precision", "quantization"},
          "model", yaml_path));
      auto get = [&](const char* k, std::string* v) {
        if (m[k]) *v = m[k].as<std::string>();
      };
      get("family", &s.model.family);
      get("architecture", &s.model.architecture);
      get("format", &s.model.format);
      get("paramSize", &s.model.param_size);
      get("precision", &s.model.precision);
      get("quantization", &s.model.quantization);
    }
    const auto& files = root["files"];
    if (!files || !files.IsSequence())
      return Error::Malformed("missing list of files").File(yaml_path).Field("files");
    std::set<std::string> seen;
    for (size_t i = 0; i < files.size(); ++i) {
      const auto& f = files[i];
      std::string where = "files[" + std::to_string(i) + "]";
      WG_TRY(OnlyKeys(f, {"path", "role", "description"}, where, yaml_path));
      if (!f["path"] || !f["role"])
        return Error::Malformed("each file needs a path and a role").File(yaml_path).Field(where);
      FileEntry e;
      WG_ASSIGN_OR_RETURN(e.path, Str(f["path"], where + ".path"));
      Status ok = CheckRelativePath(e.path);
      if (!ok.ok()) return std::move(ok).error().File(yaml_path).Field(where + ".path");
      WG_ASSIGN_OR_RETURN(std::string role, Str(f["role"], where + ".role"));
      auto r = RoleFromName(role);
      if (!r)
        return Error::Malformed("unknown role")
            .File(yaml_path)
            .Field(where + ".role")
            .Expected("weights, config, tokenizer, license, docs, code or dataset")
            .Found(role);
      e.role = *r;
      if (f["description"]) e.description = f["description"].as<std::string>();
      if (!seen.insert(e.path).second)
        return Error::Malformed("file listed twice").File(yaml_path).Field(where).Found(e.path);
      s.files.push_back(std::move(e));
    }
  } catch (const YAML::Exception& e) {
    return Error::Malformed("invalid YAML: " + e.msg)
        .File(yaml_path)
        .Field("line " + std::to_string(e.mark.line + 1));
  }
  if (s.name.empty())
    return Error::Malformed("package name missing").File(yaml_path).Field("package.name");
  return s;
}

}  // namespace wg::package
