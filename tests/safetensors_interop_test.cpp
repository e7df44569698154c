// Interop with the reference safetensors package (Python, Rust core), both directions:
// files written by safetensors.numpy/torch.save_file and its raw serialize_file are read
// here tensor by tensor, and our writer reproduces each of them byte for byte; files we
// write are read back by the reference's deserialize().
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "support/test_util.h"
#include "weightgate/formats/safetensors.h"

namespace wg {
namespace {

using Json = nlohmann::json;
constexpr int kMissingPackages = 77;

// Writes files with every reference writer and prints a manifest of what it wrote: per
// file the metadata and each tensor's dtype, shape and bytes (hex).
constexpr const char* kWriteScript = R"PY(
import json, os, sys
try:
    import numpy as np
    import torch
    import safetensors
    from safetensors.numpy import save_file as np_save_file
    from safetensors.torch import save_file as torch_save_file
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(77)

out = sys.argv[1]
rng = np.random.default_rng(7)
manifest = []

def record(path, metadata, tensors, metadata_order_random=False):
    manifest.append({"file": path, "metadata": metadata or {},
                     "metadata_order_random": metadata_order_random,
                     "tensors": [{"name": n, "dtype": d, "shape": list(s), "hex": b.hex()}
                                 for n, (d, s, b) in tensors.items()]})

NP = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "uint16": "U16",
      "float16": "F16", "int32": "I32", "uint32": "U32", "float32": "F32", "float64": "F64",
      "int64": "I64", "uint64": "U64"}

def np_tensors(shape):
    arrays = {}
    for name in NP:
        dt = np.dtype(name)
        n = int(np.prod(shape))
        if name == "bool":
            a = rng.integers(0, 2, size=shape).astype(bool)
        else:
            a = np.frombuffer(rng.bytes(n * dt.itemsize), dtype=dt).reshape(shape)
        arrays["w." + name] = a
    return arrays

def np_record(arrays):
    return {k: (NP[a.dtype.name], a.shape, a.tobytes()) for k, a in arrays.items()}

# 1. numpy: every numpy dtype, a scalar and an empty tensor, one metadata key.
arrays = np_tensors((2, 3))
arrays["scalar"] = np.array(3.5, dtype=np.float32)
arrays["empty"] = np.zeros((0, 3), dtype=np.float16)
arrays["a.first"] = np.arange(4, dtype=np.int64)
path = os.path.join(out, "numpy.safetensors")
np_save_file(arrays, path, metadata={"format": "np"})
record(path, {"format": "np"}, np_record(arrays))

# 2. torch: bfloat16 (numpy has none), no metadata.
bf = torch.tensor([[1.5, -2.25, 3.0], [1e-3, 65504.0, -0.0]], dtype=torch.bfloat16)
f32 = torch.linspace(-1, 1, 5, dtype=torch.float32)
path = os.path.join(out, "torch.safetensors")
torch_save_file({"model.bf16": bf, "model.f32": f32}, path)
record(path, None, {"model.bf16": ("BF16", bf.shape, bf.view(torch.int16).numpy().tobytes()),
                    "model.f32": ("F32", f32.shape, f32.numpy().tobytes())})

# 3. raw serialize_file: FP8 (no numpy/torch dtype here) and names that need escaping.
raw = {
    "f8.e4m3": ("float8_e4m3fn", "F8_E4M3", [2, 2], rng.bytes(4)),
    "f8.e5m2": ("float8_e5m2", "F8_E5M2", [3], rng.bytes(3)),
    'quote"back\\slash': ("uint8", "U8", [2], rng.bytes(2)),
    "ctl\x01\x1f\n\t\r\b\f\x7f": ("int8", "I8", [1], rng.bytes(1)),
    "unicode \u00fc\u00ef \U0001F600 /": ("uint16", "U16", [1], rng.bytes(2)),
    "": ("uint8", "U8", [], rng.bytes(1)),
}
meta = {"note": 'tab\t "quoted" \\ \x00 \u00e9 \U0001F600 \x7f'}
path = os.path.join(out, "raw.safetensors")
safetensors.serialize_file({k: {"dtype": v[0], "shape": v[2], "data": v[3]} for k, v in raw.items()},
                           path, metadata=meta)
record(path, meta, {k: (v[1], v[2], v[3]) for k, v in raw.items()})

# 4. several metadata keys: the reference keeps them in a Rust HashMap, so their order in
#    the header changes from run to run and only the set can be compared.
arrays = np_tensors((3,))
meta = {"b": "2", "a": "1", "c": "3", "format": "np"}
path = os.path.join(out, "multi_metadata.safetensors")
np_save_file(arrays, path, metadata=meta)
record(path, meta, np_record(arrays), metadata_order_random=True)

json.dump(manifest, sys.stdout)
)PY";

// Reads a file with the reference reader and prints its metadata and tensors.
constexpr const char* kReadScript = R"PY(
import json, sys
try:
    import safetensors
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(77)
path = sys.argv[1]
with open(path, "rb") as f:
    tensors = safetensors.deserialize(f.read())
with safetensors.safe_open(path, framework="numpy") as f:
    metadata = f.metadata() or {}
json.dump({"metadata": metadata,
           "tensors": [{"name": n, "dtype": t["dtype"], "shape": t["shape"],
                        "hex": bytes(t["data"]).hex()} for n, t in tensors]}, sys.stdout)
)PY";

struct PyResult {
  int exit_code = -1;
  std::string out;
};

// Runs WG_PYTHON on `script` with `args`; stdout is captured, stderr passes through so a
// failing script explains itself in the test log.
PyResult RunPython(const test::TempDir& dir, const char* script, std::vector<std::string> args) {
  const std::string script_path = dir / "script.py";
  test::WriteText(script_path, script);
  int fds[2];
  if (::pipe(fds) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<std::string> argv_s = {WG_PYTHON, script_path};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  PyResult r;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

#define SKIP_WITHOUT_PYTHON()                                                      \
  if (!std::filesystem::exists(WG_PYTHON))                                         \
  GTEST_SKIP() << "no Python with the reference safetensors package at " WG_PYTHON \
                  " (configure with -DWG_PYTHON=/path/to/venv/bin/python)"

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> b(hex.size() / 2);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
  return b;
}

std::vector<uint8_t> Data(const TensorInfo& t) {
  return {t.data().begin(), t.data().end()};
}

TensorWriteSpec SpecFromManifest(const Json& t) {
  TensorWriteSpec s;
  s.name = t["name"];
  s.dtype = *SafetensorsDType(t["dtype"].get<std::string>());
  s.shape = t["shape"].get<std::vector<uint64_t>>();
  std::vector<uint8_t> bytes = FromHex(t["hex"]);
  s.nbytes = bytes.size();
  s.produce = [bytes](const ByteSink& sink) { return sink(Bytes(bytes)); };
  return s;
}

// Splits a file into its header JSON and its data section.
std::pair<Json, std::vector<uint8_t>> Split(const std::vector<uint8_t>& file) {
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  std::string header(file.begin() + 8, file.begin() + 8 + n);
  return {Json::parse(header), std::vector<uint8_t>(file.begin() + 8 + n, file.end())};
}

TEST(SafetensorsInterop, ReadsReferenceFilesAndWritesThemByteForByte) {
  SKIP_WITHOUT_PYTHON();
  test::TempDir dir;
  PyResult py = RunPython(dir, kWriteScript, {dir.path().string()});
  if (py.exit_code == kMissingPackages) GTEST_SKIP() << WG_PYTHON " lacks numpy/torch/safetensors";
  ASSERT_EQ(py.exit_code, 0);
  const Json manifest = Json::parse(py.out);
  ASSERT_EQ(manifest.size(), 4u);

  for (const Json& file : manifest) {
    const std::string ref_path = file["file"];
    SCOPED_TRACE(ref_path);
    auto cat = ReadSafetensors(ref_path);
    ASSERT_TRUE(cat.ok()) << cat.error().ToString();
    ASSERT_EQ(cat->tensors.size(), file["tensors"].size());
    for (const Json& want : file["tensors"]) {
      const TensorInfo* t = cat->Find(want["name"]);
      ASSERT_NE(t, nullptr) << want["name"];
      EXPECT_EQ(*SafetensorsDTypeName(t->dtype), want["dtype"]) << t->name;
      EXPECT_EQ(t->shape, want["shape"].get<std::vector<uint64_t>>()) << t->name;
      EXPECT_EQ(Data(*t), FromHex(want["hex"])) << t->name;
    }
    const auto metadata = file["metadata"].get<std::map<std::string, std::string>>();
    if (!metadata.empty())
      EXPECT_EQ(cat->metadata["__metadata__"].get<decltype(metadata)>(), metadata);

    // Same tensors, handed over in reverse order: the writer must lay them out itself.
    std::vector<TensorWriteSpec> specs;
    for (const Json& t : file["tensors"]) specs.push_back(SpecFromManifest(t));
    std::reverse(specs.begin(), specs.end());
    const std::string ours = dir / ("ours." + std::filesystem::path(ref_path).filename().string());
    ASSERT_TRUE(WriteSafetensors(ours, metadata, std::move(specs)).ok());
    const auto ref_bytes = test::ReadAll(ref_path), our_bytes = test::ReadAll(ours);
    if (!file["metadata_order_random"]) {
      EXPECT_EQ(our_bytes, ref_bytes) << "not byte-identical to the reference writer";
    } else {
      // Identical but for the order of __metadata__'s keys, which the reference randomizes.
      ASSERT_EQ(our_bytes.size(), ref_bytes.size());
      auto [our_header, our_data] = Split(our_bytes);
      auto [ref_header, ref_data] = Split(ref_bytes);
      EXPECT_EQ(our_header, ref_header);
      EXPECT_EQ(our_data, ref_data);
    }
  }
}

TEST(SafetensorsInterop, ReferenceReadsWhatWeWrite) {
  SKIP_WITHOUT_PYTHON();
  test::TempDir dir;
  std::mt19937 rng(11);
  std::vector<TensorWriteSpec> specs;
  std::map<std::string, std::vector<uint8_t>> want;
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> shapes = {
      {"BOOL", {5}}, {"U8", {2, 2}},   {"I8", {3}},        {"I16", {2}},     {"U16", {1, 2}},
      {"F16", {4}},  {"BF16", {2, 3}}, {"I32", {}},        {"U32", {0}},     {"F32", {3, 1}},
      {"F64", {2}},  {"I64", {1}},     {"U64", {2, 0, 2}}, {"F8_E4M3", {7}}, {"F8_E5M2", {1}}};
  for (const auto& [st, shape] : shapes) {
    TensorWriteSpec s;
    s.name = "layer\"" + st + "\"\n\u00e9";
    s.dtype = *SafetensorsDType(st);
    s.shape = shape;
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    std::vector<uint8_t> bytes(n * Info(s.dtype).block_bytes);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng() & (st == "BOOL" ? 1 : 0xFF));
    s.nbytes = bytes.size();
    want[s.name] = bytes;
    s.produce = [bytes](const ByteSink& sink) { return sink(Bytes(bytes)); };
    specs.push_back(std::move(s));
  }
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"license", "apache-2.0"}, {"weird", "\x01\"\\ \u00e9"}};
  const std::string path = dir / "ours.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, metadata, std::move(specs)).ok());

  PyResult py = RunPython(dir, kReadScript, {path});
  if (py.exit_code == kMissingPackages) GTEST_SKIP() << WG_PYTHON " lacks safetensors";
  ASSERT_EQ(py.exit_code, 0) << "the reference reader refused our file";
  const Json read = Json::parse(py.out);
  EXPECT_EQ(read["metadata"].get<decltype(metadata)>(), metadata);
  ASSERT_EQ(read["tensors"].size(), shapes.size());
  for (const Json& t : read["tensors"]) {
    const std::string name = t["name"];
    ASSERT_TRUE(want.count(name)) << name;
    EXPECT_EQ(FromHex(t["hex"]), want[name]) << name;
    EXPECT_NE(name.find("\"" + t["dtype"].get<std::string>() + "\""), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace wg
