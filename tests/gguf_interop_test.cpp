// Interop with gguf-py (llama.cpp's Python package), both directions: files written by
// its GGUFWriter (every metadata type, nested arrays, F32/F16/BF16/Q8_0/Q4_0 tensors,
// a custom alignment, a vocab-only file) are read here value for value and tensor byte
// for tensor byte, and rewriting them reproduces gguf-py's bytes exactly; files we write
// are read by its GGUFReader with the same key/values and tensors, and its dequantizer
// gives the values ours gives.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "support/test_util.h"
#include "weightgate/core/quant.h"
#include "weightgate/formats/gguf.h"

namespace wg {
namespace {

using Json = nlohmann::json;
constexpr int kMissingPackages = 77;

// Shared by both scripts: describes a GGUF file as gguf-py's GGUFReader sees it.
constexpr const char* kDescribe = R"PY(
import json, sys
try:
    import numpy as np
    import gguf
    from gguf import GGUFReader, GGUFWriter, GGUFValueType as VT, GGMLQuantizationType as QT
    from gguf import quants
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(77)

def describe(path, dequantize=False):
    r = GGUFReader(path)
    fields = []
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        fields.append({"key": f.name, "types": [VT(t).name for t in f.types],
                       "value": f.contents()})
    tensors = []
    for t in r.tensors:
        d = {"name": t.name, "type": t.tensor_type.name,
             "shape": [int(x) for x in reversed(t.shape)],  # GGUFReader lists ne order
             "hex": t.data.tobytes().hex()}
        if dequantize and t.tensor_type in (QT.Q8_0, QT.Q4_0, QT.Q4_K, QT.Q6_K, QT.BF16, QT.F16):
            raw = np.frombuffer(t.data.tobytes(), dtype=np.uint8)
            if t.tensor_type == QT.F16:
                f32 = raw.view(np.float16).astype(np.float32)
            else:
                block, size = quants.GGML_QUANT_SIZES[t.tensor_type]
                f32 = quants.dequantize(raw.reshape(-1, size), t.tensor_type).astype(np.float32)
            d["f32_hex"] = f32.tobytes().hex()
        tensors.append(d)
    return {"file": path, "alignment": int(r.alignment), "data_offset": int(r.data_offset),
            "fields": fields, "tensors": tensors}
)PY";

constexpr const char* kWriteScript = R"PY(
out = sys.argv[1]
rng = np.random.default_rng(17)
manifest = []

# 1. Every metadata type, arrays of several types, nested arrays; five tensor types.
path = out + "/all.gguf"
w = GGUFWriter(path, "llama")
w.add_uint8("t.u8", 200)
w.add_int8("t.i8", -128)
w.add_uint16("t.u16", 65535)
w.add_int16("t.i16", -30000)
w.add_uint32("t.u32", 4000000000)
w.add_int32("t.i32", -2000000000)
w.add_float32("t.f32", 0.1)
w.add_bool("t.bool", True)
w.add_string("t.str", "h\u00e9llo \u2713 \U0001F600")
w.add_uint64("t.u64", 2**64 - 1)
w.add_int64("t.i64", -2**63)
w.add_float64("t.f64", 1 / 3)
w.add_array("t.arr_f32", [1.5, -2.25, 1e-30])
w.add_array("t.arr_str", ["a", "bc", "", "\u00fc"])
w.add_array("t.arr_i32", [1, -2, 3])
w.add_array("t.arr_bool", [True, False, True])
w.add_key_value("t.arr_u8", [0, 255, 7], VT.ARRAY, sub_type=VT.UINT8)
w.add_key_value("t.arr_i64", [-2**63, 2**63 - 1], VT.ARRAY, sub_type=VT.INT64)
w.add_key_value("t.arr_f64", [0.5, -1e300], VT.ARRAY, sub_type=VT.FLOAT64)
w.add_array("t.nested", [[1, 2], [3]])
w.add_array("t.nested_str", [["x"], ["y", "z"]])
x = rng.standard_normal((4, 64)).astype(np.float32)
w.add_tensor("f32", x)
w.add_tensor("f16", rng.standard_normal((3, 5)).astype(np.float16))
w.add_tensor("bf16", quants.quantize(x[:2], QT.BF16), raw_dtype=QT.BF16)
w.add_tensor("q8_0", quants.quantize(x, QT.Q8_0), raw_dtype=QT.Q8_0)
w.add_tensor("q4_0.3d", quants.quantize(rng.standard_normal((2, 3, 32)).astype(np.float32), QT.Q4_0),
             raw_dtype=QT.Q4_0)
w.add_tensor("vec", rng.standard_normal(7).astype(np.float32))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
manifest.append(describe(path))

# 2. A custom alignment and tensors whose sizes are not multiples of it.
path = out + "/aligned.gguf"
w = GGUFWriter(path, "llama")
w.add_custom_alignment(64)
w.add_tensor("a", rng.standard_normal(3).astype(np.float32))
w.add_tensor("b", rng.standard_normal((2, 33)).astype(np.float16))
w.add_tensor("c", quants.quantize(rng.standard_normal(32).astype(np.float32), QT.Q8_0),
             raw_dtype=QT.Q8_0)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
manifest.append(describe(path))

# 3. Vocab-only, as convert_hf_to_gguf.py --vocab-only writes it: no tensor section.
path = out + "/vocab.gguf"
w = GGUFWriter(path, "llama")
w.add_tokenizer_model("llama")
w.add_token_list(["<unk>", "<s>", "</s>", "\u2581hi"])
w.add_token_scores([0.0, 0.0, 0.0, -1.5])
w.add_token_types([2, 3, 3, 1])
w.write_header_to_file()
w.write_kv_data_to_file()
w.close()
manifest.append(describe(path))

json.dump(manifest, sys.stdout)
)PY";

constexpr const char* kReadScript = R"PY(
json.dump(describe(sys.argv[1], dequantize=True), sys.stdout)
)PY";

struct PyResult {
  int exit_code = -1;
  std::string out;
};

// Runs WG_PYTHON on `script` with `args`; stdout is captured, stderr passes through so a
// failing script explains itself in the test log.
PyResult RunPython(const test::TempDir& dir, const std::string& script,
                   std::vector<std::string> args) {
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

#define SKIP_WITHOUT_PYTHON()                                               \
  if (!std::filesystem::exists(WG_PYTHON))                                  \
  GTEST_SKIP() << "no Python with the reference gguf package at " WG_PYTHON \
                  " (configure with -DWG_PYTHON=/path/to/venv/bin/python)"

std::string Hex(Bytes b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (uint8_t c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

std::string TypeName(GgufType t) {
  static const char* kNames[] = {"UINT8",  "INT8",    "UINT16", "INT16",  "UINT32",
                                 "INT32",  "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                 "UINT64", "INT64",   "FLOAT64"};
  return kNames[static_cast<int>(t)];
}

// GGUFReader's view of a value: its type chain (taken from the first element at each
// level) and its contents, with nested arrays flattened.
void Describe(const GgufValue& v, Json* types, Json* flat, bool first = true) {
  if (first) types->push_back(TypeName(v.type));
  switch (v.type) {
    case GgufType::kArray:
      if (first && v.array.empty()) types->push_back(TypeName(v.elem_type));
      for (size_t k = 0; k < v.array.size(); ++k)
        Describe(v.array[k], types, flat, first && k == 0);
      return;
    case GgufType::kString:
      flat->push_back(v.str);
      return;
    case GgufType::kBool:
      flat->push_back(v.u != 0);
      return;
    case GgufType::kF32:
    case GgufType::kF64:
      flat->push_back(v.f);
      return;
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      flat->push_back(v.i);
      return;
    default:
      flat->push_back(v.u);
  }
}

void ExpectSameFields(const GgufFile& g, const Json& fields) {
  ASSERT_EQ(g.kvs.size(), fields.size());
  for (size_t k = 0; k < fields.size(); ++k) {
    const Json& f = fields[k];
    const GgufKV& kv = g.kvs[k];
    EXPECT_EQ(kv.key, f["key"]);
    Json types = Json::array(), flat = Json::array();
    Describe(kv.value, &types, &flat);
    EXPECT_EQ(types, f["types"]) << kv.key;
    const Json want = f["value"].is_array() ? f["value"] : Json::array({f["value"]});
    EXPECT_EQ(flat, want) << kv.key;
  }
}

std::vector<TensorWriteSpec> CopyAll(const GgufFile& g) {
  std::vector<TensorWriteSpec> specs;
  for (const TensorInfo& t : g.catalog.tensors) specs.push_back(CopyTensor(t));
  return specs;
}

TEST(GgufInterop, ReadsGgufPyFilesAndRewritesThemByteForByte) {
  SKIP_WITHOUT_PYTHON();
  test::TempDir dir;
  PyResult py = RunPython(dir, std::string(kDescribe) + kWriteScript, {dir.path().string()});
  if (py.exit_code == kMissingPackages) GTEST_SKIP() << WG_PYTHON " lacks numpy/gguf";
  ASSERT_EQ(py.exit_code, 0);
  const Json manifest = Json::parse(py.out);
  ASSERT_EQ(manifest.size(), 3u);
  for (const Json& file : manifest) {
    const std::string path = file["file"];
    SCOPED_TRACE(path);
    auto g = ReadGguf(path);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    EXPECT_EQ(g->alignment, file["alignment"].get<uint32_t>());
    if (!g->catalog.tensors.empty()) {
      EXPECT_EQ(g->data_offset, file["data_offset"].get<uint64_t>());
    }
    ExpectSameFields(*g, file["fields"]);
    ASSERT_EQ(g->catalog.tensors.size(), file["tensors"].size());
    for (size_t k = 0; k < g->catalog.tensors.size(); ++k) {
      const TensorInfo& t = g->catalog.tensors[k];
      const Json& want = file["tensors"][k];
      EXPECT_EQ(t.name, want["name"]);
      EXPECT_EQ(Name(t.dtype), want["type"].get<std::string>()) << t.name;
      EXPECT_EQ(t.shape, want["shape"].get<std::vector<uint64_t>>()) << t.name;
      EXPECT_EQ(Hex(t.data()), want["hex"]) << t.name;
    }
    const std::string ours = dir / ("ours." + std::filesystem::path(path).filename().string());
    Status s = WriteGguf(ours, g->kvs, CopyAll(*g), g->alignment);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_TRUE(test::ReadAll(ours) == test::ReadAll(path)) << "not byte-identical to GGUFWriter";
  }
}

TensorWriteSpec BytesSpec(std::string name, DType dtype, std::vector<uint64_t> shape,
                          std::vector<uint8_t> bytes) {
  TensorWriteSpec s;
  s.name = std::move(name);
  s.dtype = dtype;
  s.shape = std::move(shape);
  s.nbytes = bytes.size();
  s.produce = [bytes = std::move(bytes)](const ByteSink& sink) { return sink(Bytes(bytes)); };
  return s;
}

TEST(GgufInterop, GgufPyReadsWhatWeWrite) {
  SKIP_WITHOUT_PYTHON();
  test::TempDir dir;
  std::vector<GgufKV> kvs = {{"general.architecture", GgufValue::String("llama")},
                             {"general.alignment", GgufValue::U32(16)}};
  auto scalar = [](GgufType t, uint64_t u, int64_t i, double f) {
    GgufValue v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
  };
  kvs.push_back({"t.u8", scalar(GgufType::kU8, 255, 0, 0)});
  kvs.push_back({"t.i8", scalar(GgufType::kI8, 0, -128, 0)});
  kvs.push_back({"t.u16", scalar(GgufType::kU16, 65535, 0, 0)});
  kvs.push_back({"t.i16", scalar(GgufType::kI16, 0, -32768, 0)});
  kvs.push_back({"t.u32", GgufValue::U32(4000000000u)});
  kvs.push_back({"t.i32", GgufValue::I32(-5)});
  kvs.push_back({"t.f32", GgufValue::F32(1e-5f)});
  kvs.push_back({"t.bool", GgufValue::Bool(false)});
  kvs.push_back({"t.str", GgufValue::String("\u00e9t\u00e9 \U0001F600")});
  kvs.push_back({"t.u64", GgufValue::U64(UINT64_MAX)});
  kvs.push_back({"t.i64", scalar(GgufType::kI64, 0, INT64_MIN, 0)});
  kvs.push_back({"t.f64", scalar(GgufType::kF64, 0, 0, -1e300)});
  kvs.push_back({"t.tokens", GgufValue::Array(GgufType::kString,
                                              {GgufValue::String("<s>"), GgufValue::String(""),
                                               GgufValue::String("\u2581a")})});
  kvs.push_back({"t.scores",
                 GgufValue::Array(GgufType::kF32, {GgufValue::F32(-0.5f), GgufValue::F32(3.25f)})});
  kvs.push_back(
      {"t.nested",
       GgufValue::Array(GgufType::kArray,
                        {GgufValue::Array(GgufType::kI32, {GgufValue::I32(1), GgufValue::I32(-2)}),
                         GgufValue::Array(GgufType::kI32, {}),
                         GgufValue::Array(GgufType::kI32, {GgufValue::I32(3)})})});

  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  std::vector<float> x(4 * 64);
  for (auto& v : x) v = normal(rng);
  auto convert = [&](DType to, uint64_t n) {
    std::vector<uint8_t> out(*ByteSize(to, n));
    EXPECT_TRUE(FromF32(to, x.data(), out.data(), n).ok());
    return out;
  };
  std::vector<TensorWriteSpec> specs;
  specs.push_back(BytesSpec("f32", DType::kF32, {4, 64}, convert(DType::kF32, 256)));
  specs.push_back(BytesSpec("f16", DType::kF16, {3, 5}, convert(DType::kF16, 15)));
  specs.push_back(BytesSpec("bf16", DType::kBF16, {2, 64}, convert(DType::kBF16, 128)));
  specs.push_back(BytesSpec("q8_0", DType::kQ8_0, {4, 64}, convert(DType::kQ8_0, 256)));
  specs.push_back(BytesSpec("q4_0", DType::kQ4_0, {2, 2, 64}, convert(DType::kQ4_0, 256)));
  std::vector<uint8_t> k_blocks(144 + 210);
  for (auto& c : k_blocks) c = static_cast<uint8_t>(rng());
  k_blocks[1] = k_blocks[3] = 0x3c;  // finite f16 scales (d, dmin of Q4_K; d of Q6_K)
  k_blocks[144 + 209] = 0x3c;
  specs.push_back(BytesSpec("q4_k", DType::kQ4K, {256},
                            std::vector<uint8_t>(k_blocks.begin(), k_blocks.begin() + 144)));
  specs.push_back(BytesSpec("q6_k", DType::kQ6K, {256},
                            std::vector<uint8_t>(k_blocks.begin() + 144, k_blocks.end())));
  specs.push_back(BytesSpec("i32", DType::kI32, {3}, {1, 0, 0, 0, 255, 255, 255, 255, 7, 0, 0, 0}));

  std::vector<std::tuple<std::string, DType, std::vector<uint8_t>>> written;
  for (const auto& s : specs) {
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(s.produce([&](Bytes b) {
                   bytes.insert(bytes.end(), b.begin(), b.end());
                   return Ok();
                 }).ok());
    written.emplace_back(s.name, s.dtype, bytes);
  }
  const std::string path = dir / "ours.gguf";
  Status st = WriteGguf(path, kvs, std::move(specs), 16);
  ASSERT_TRUE(st.ok()) << st.error().ToString();

  PyResult py = RunPython(dir, std::string(kDescribe) + kReadScript, {path});
  if (py.exit_code == kMissingPackages) GTEST_SKIP() << WG_PYTHON " lacks numpy/gguf";
  ASSERT_EQ(py.exit_code, 0) << "gguf-py could not read our file";
  const Json read = Json::parse(py.out);
  EXPECT_EQ(read["alignment"], 16);

  GgufFile mine;  // what we meant to write, in the reader's terms
  mine.kvs = kvs;
  ExpectSameFields(mine, read["fields"]);
  ASSERT_EQ(read["tensors"].size(), written.size());
  for (size_t k = 0; k < written.size(); ++k) {
    const auto& [name, dtype, bytes] = written[k];
    const Json& t = read["tensors"][k];
    EXPECT_EQ(t["name"], name);
    EXPECT_EQ(t["type"].get<std::string>(), Name(dtype)) << name;
    EXPECT_EQ(Hex(Bytes(bytes)), t["hex"]) << name;
    if (t.contains("f32_hex")) {
      // gguf-py's dequantizer and ours agree on what the bytes mean.
      const uint64_t n = bytes.size() / Info(dtype).block_bytes * Info(dtype).block_elems;
      std::vector<float> f(n);
      ASSERT_TRUE(ToF32(dtype, bytes.data(), f.data(), n).ok());
      EXPECT_EQ(Hex(Bytes(reinterpret_cast<const uint8_t*>(f.data()), n * 4)), t["f32_hex"])
          << name;
    }
  }
  EXPECT_EQ(read["tensors"][4]["shape"], Json::array({2, 2, 64}));
}

}  // namespace
}  // namespace wg
