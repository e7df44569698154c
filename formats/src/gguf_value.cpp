// GGUF metadata values, ggml type ids and their JSON rendering.
#include <array>
#include <charconv>
#include <cstdlib>

#include "gguf_internal.h"
#include "safetensors_internal.h"

namespace wg {
namespace gguf_detail {
namespace {

// ggml.c type_traits (and the GGUF spec for MXFP4), indexed by id; empty names are
// ids that were never assigned or have been removed.
constexpr std::array<GgmlType, 40> kGgmlTypes = {{
    {"F32", 1, 4},        {"F16", 1, 2},       {"Q4_0", 32, 18},     {"Q4_1", 32, 20},
    {"", 0, 0},           {"", 0, 0},          {"Q5_0", 32, 22},     {"Q5_1", 32, 24},
    {"Q8_0", 32, 34},     {"Q8_1", 32, 36},    {"Q2_K", 256, 84},    {"Q3_K", 256, 110},
    {"Q4_K", 256, 144},   {"Q5_K", 256, 176},  {"Q6_K", 256, 210},   {"Q8_K", 256, 292},
    {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74}, {"IQ3_XXS", 256, 98}, {"IQ1_S", 256, 50},
    {"IQ4_NL", 32, 18},   {"IQ3_S", 256, 110}, {"IQ2_S", 256, 82},   {"IQ4_XS", 256, 136},
    {"I8", 1, 1},         {"I16", 1, 2},       {"I32", 1, 4},        {"I64", 1, 8},
    {"F64", 1, 8},        {"IQ1_M", 256, 56},  {"BF16", 1, 2},       {"", 0, 0},
    {"", 0, 0},           {"", 0, 0},          {"TQ1_0", 256, 54},   {"TQ2_0", 256, 66},
    {"", 0, 0},           {"", 0, 0},          {"", 0, 0},           {"MXFP4", 32, 17},
}};

// ggml type id for each weightgate dtype that GGUF can hold.
struct DTypeId {
  DType dtype;
  int32_t ggml;
};
constexpr std::array<DTypeId, 12> kDTypeIds = {{
    {DType::kF32, 0},
    {DType::kF16, 1},
    {DType::kQ4_0, 2},
    {DType::kQ8_0, 8},
    {DType::kQ4K, 12},
    {DType::kQ6K, 14},
    {DType::kI8, 24},
    {DType::kI16, 25},
    {DType::kI32, 26},
    {DType::kI64, 27},
    {DType::kF64, 28},
    {DType::kBF16, 30},
}};

constexpr std::array<std::string_view, 13> kTypeNames = {
    "U8", "I8", "U16", "I16", "U32", "I32", "F32", "BOOL", "STRING", "ARRAY", "U64", "I64", "F64"};
constexpr std::array<uint32_t, 13> kFixedSizes = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

}  // namespace

std::optional<GgmlType> FindGgmlType(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= kGgmlTypes.size() || kGgmlTypes[id].name.empty())
    return std::nullopt;
  return kGgmlTypes[id];
}

bool IsKnownType(int32_t t) {
  return t >= 0 && static_cast<size_t>(t) < kTypeNames.size();
}

std::string TypeName(GgufType t) {
  auto i = static_cast<int32_t>(t);
  return IsKnownType(i) ? std::string(kTypeNames[i]) : "type " + std::to_string(i);
}

uint32_t FixedSize(GgufType t) {
  auto i = static_cast<int32_t>(t);
  return IsKnownType(i) ? kFixedSizes[i] : 0;
}

}  // namespace gguf_detail

std::optional<DType> DTypeFromGgml(int32_t ggml_type) {
  for (const auto& e : gguf_detail::kDTypeIds)
    if (e.ggml == ggml_type) return e.dtype;
  return std::nullopt;
}

Result<int32_t> GgmlTypeFromDType(DType t) {
  for (const auto& e : gguf_detail::kDTypeIds)
    if (e.dtype == t) return e.ggml;
  return Error::Unsupported("GGUF cannot store this dtype")
      .Expected("F32, F16, BF16, F64, I8, I16, I32, I64, Q8_0, Q4_0, Q4_K or Q6_K")
      .Found(std::string(Name(t)));
}

GgufValue GgufValue::U32(uint32_t v) {
  GgufValue x;
  x.type = GgufType::kU32;
  x.u = v;
  return x;
}
GgufValue GgufValue::I32(int32_t v) {
  GgufValue x;
  x.type = GgufType::kI32;
  x.i = v;
  return x;
}
GgufValue GgufValue::U64(uint64_t v) {
  GgufValue x;
  x.type = GgufType::kU64;
  x.u = v;
  return x;
}
GgufValue GgufValue::F32(float v) {
  GgufValue x;
  x.type = GgufType::kF32;
  x.f = v;
  return x;
}
GgufValue GgufValue::Bool(bool v) {
  GgufValue x;
  x.type = GgufType::kBool;
  x.u = v ? 1 : 0;
  return x;
}
GgufValue GgufValue::String(std::string v) {
  GgufValue x;
  x.type = GgufType::kString;
  x.str = std::move(v);
  return x;
}
GgufValue GgufValue::Array(GgufType elem_type, std::vector<GgufValue> items) {
  GgufValue x;
  x.type = GgufType::kArray;
  x.elem_type = elem_type;
  x.array = std::move(items);
  return x;
}

namespace {
bool IsUnsigned(GgufType t) {
  return t == GgufType::kU8 || t == GgufType::kU16 || t == GgufType::kU32 || t == GgufType::kU64;
}
bool IsSigned(GgufType t) {
  return t == GgufType::kI8 || t == GgufType::kI16 || t == GgufType::kI32 || t == GgufType::kI64;
}

// JSON strings must be UTF-8; GGUF strings should be but nothing enforces it (llama.cpp
// does not check). Invalid bytes become U+FFFD so the document can always be printed.
std::string ValidUtf8(const std::string& s) {
  auto bad = safetensors_detail::FindInvalidUtf8(s);
  if (!bad) return s;
  std::string out(s, 0, *bad);
  for (size_t i = *bad; i < s.size();) {
    // Advance one byte at a time through the invalid region; keep valid runs.
    auto next = safetensors_detail::FindInvalidUtf8(std::string_view(s).substr(i));
    if (next && *next == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      size_t n = next ? *next : s.size() - i;
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

// f32 values print with the fewest digits that read back to the same f32 (1e-05, not
// 9.999999747378752e-06): the double closest to the shortest f32 decimal.
double ShortestF32(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 1, static_cast<float>(v));
  if (ec != std::errc()) return v;
  *end = '\0';
  return std::strtod(buf, nullptr);
}

constexpr size_t kSummaryHead = 8;  // items shown of a summarized array
}  // namespace

std::optional<uint64_t> GgufValue::AsUint() const {
  if (IsUnsigned(type)) return u;
  if (IsSigned(type) && i >= 0) return static_cast<uint64_t>(i);
  return std::nullopt;
}

std::optional<double> GgufValue::AsFloat() const {
  if (type == GgufType::kF32 || type == GgufType::kF64) return f;
  if (IsUnsigned(type)) return static_cast<double>(u);
  if (IsSigned(type)) return static_cast<double>(i);
  return std::nullopt;
}

nlohmann::ordered_json GgufValue::ToJson(size_t max_array) const {
  using Json = nlohmann::ordered_json;
  switch (type) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64:
      return u;
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      return i;
    case GgufType::kF32:
      return ShortestF32(f);
    case GgufType::kF64:
      return f;
    case GgufType::kBool:
      return u != 0;
    case GgufType::kString:
      return ValidUtf8(str);
    case GgufType::kArray: {
      if (array.size() <= max_array) {
        Json a = Json::array();
        for (const GgufValue& v : array) a.push_back(v.ToJson(max_array));
        return a;
      }
      // Long arrays (a vocabulary, its scores and merges) would swamp any display.
      Json head = Json::array();
      for (size_t k = 0; k < kSummaryHead && k < array.size(); ++k)
        head.push_back(array[k].ToJson(max_array));
      return Json{{"array_of", gguf_detail::TypeName(elem_type)},
                  {"count", array.size()},
                  {"first", std::move(head)}};
    }
  }
  return nullptr;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  for (const GgufKV& kv : kvs)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

}  // namespace wg
