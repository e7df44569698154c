// The llama2.c header rules and array layouts of LLAMA2C_FORMAT.md §1-2 (run.c's
// read_checkpoint / memory_map_weights, export.py's legacy/version1/version2_export).
// Every size is computed with overflow checks from fields checked to be positive, and
// the file must end exactly where the layout does: a legacy file has no magic, so the
// exact size is what tells it from any other 28+ bytes.
#include "llama2c_layout.h"

#include <cstring>

#include "weightgate/core/byte_reader.h"

namespace wg::llama2c_detail {
namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr uint64_t kLegacyHeaderBytes = 28;
constexpr uint64_t kVersionedHeaderBytes = 256;
constexpr const char* kFieldNames[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                        "n_kv_heads", "vocab_size", "seq_len"};

std::string ConfigText(const Llama2cConfig& c) {
  return "dim=" + std::to_string(c.dim) + " hidden_dim=" + std::to_string(c.hidden_dim) +
         " n_layers=" + std::to_string(c.n_layers) + " n_heads=" + std::to_string(c.n_heads) +
         " n_kv_heads=" + std::to_string(c.n_kv_heads) +
         " vocab_size=" + std::to_string(c.vocab_size) + " seq_len=" + std::to_string(c.seq_len);
}

// Lays arrays out at increasing offsets; every size and offset is overflow-checked.
// Without an output vector it only adds up sizes, one multiplication per per-layer
// array, so a header claiming 2^31 layers costs nothing before the size check refuses it.
class LayoutBuilder {
 public:
  LayoutBuilder(const std::string& path, uint64_t start, std::vector<Llama2cArray>* out)
      : path_(path), at_(start), out_(out) {}

  Status Add(std::string name, DType dtype, std::vector<uint64_t> shape) {
    WG_ASSIGN_OR_RETURN(uint64_t bytes, SizeOf(name, dtype, shape));
    if (out_) out_->push_back({name, dtype, std::move(shape), at_, bytes});
    return Advance(bytes, name);
  }

  // n_layers arrays named blk.N.<what>.weight, all of one shape.
  Status AddLayers(const char* what, DType dtype, const std::vector<uint64_t>& shape,
                   uint64_t layers) {
    if (!out_) {
      WG_ASSIGN_OR_RETURN(uint64_t bytes, SizeOf(what, dtype, shape));
      return AdvanceTimes(bytes, layers, what);
    }
    for (uint64_t l = 0; l < layers; ++l) WG_TRY(Add(Layer(l, what), dtype, shape));
    return Ok();
  }

  // Version 2: int8 values of the whole tensor, then one float32 scale per group.
  Status AddQ8(const std::string& name, std::vector<uint64_t> shape, uint64_t group_size) {
    WG_ASSIGN_OR_RETURN(uint64_t elements, SizeOf(name, DType::kI8, shape));
    if (elements % group_size != 0)
      return Error::Malformed("tensor size is not a multiple of the quantization group size")
          .File(path_)
          .Offset(37)
          .Field(name)
          .Expected("a multiple of group_size " + std::to_string(group_size))
          .Found(std::to_string(elements) + " elements");
    WG_TRY(Add(name, DType::kI8, std::move(shape)));
    return Add(name + kLlama2cScalesSuffix, DType::kF32, {elements / group_size});
  }

  Status AddQ8Layers(const char* what, const std::vector<uint64_t>& shape, uint64_t group_size,
                     uint64_t layers) {
    if (!out_) {
      // Values (1 byte each) and scales (4 bytes per group) of one layer, times layers.
      WG_ASSIGN_OR_RETURN(uint64_t elements, SizeOf(what, DType::kI8, shape));
      if (elements % group_size != 0) return AddQ8(what, shape, group_size);  // the error
      return AdvanceTimes(elements + elements / group_size * 4, layers, what);
    }
    for (uint64_t l = 0; l < layers; ++l) WG_TRY(AddQ8(Layer(l, what), shape, group_size));
    return Ok();
  }

  Status Skip(uint64_t bytes, const std::string& what) { return Advance(bytes, what); }
  uint64_t at() const { return at_; }

 private:
  static std::string Layer(uint64_t l, const char* what) {
    return "blk." + std::to_string(l) + "." + what + ".weight";
  }
  Result<uint64_t> SizeOf(const std::string& name, DType dtype,
                          const std::vector<uint64_t>& shape) const {
    auto elements = ElementCount(shape);
    if (!elements.ok()) return Overflow(name);
    auto bytes = ByteSize(dtype, *elements);
    if (!bytes.ok()) return Overflow(name);
    return *bytes;
  }
  Status Advance(uint64_t bytes, const std::string& name) {
    if (!CheckedAdd(at_, bytes, &at_)) return Overflow(name);
    return Ok();
  }
  Status AdvanceTimes(uint64_t bytes, uint64_t times, const std::string& name) {
    uint64_t total = 0;
    if (!CheckedMul(bytes, times, &total)) return Overflow(name);
    return Advance(total, name);
  }
  Error Overflow(const std::string& name) const {
    return Error::Malformed("array sizes implied by the header overflow 64 bits")
        .File(path_)
        .Offset(0)
        .Field(name);
  }

  const std::string& path_;
  uint64_t at_;
  std::vector<Llama2cArray>* out_;
};

// Lays out every array of `c` after the header; legacy files with or without the RoPE
// tables (which are skipped, not listed). Returns where the file must end.
Result<uint64_t> LayArrays(const Llama2cConfig& c, const std::string& path, uint64_t header,
                           bool rope_tables, std::vector<Llama2cArray>* out,
                           uint64_t* tables_offset) {
  const uint64_t D = c.dim, H = c.hidden_dim, L = c.n_layers, V = c.vocab_size;
  const uint64_t head = D / c.n_heads, kv_dim = head * c.n_kv_heads;
  LayoutBuilder b(path, header, out);
  struct Matrix {
    const char* what;
    uint64_t rows, cols;
  };
  const Matrix matrices[] = {{"attn_q", D, D},      {"attn_k", kv_dim, D}, {"attn_v", kv_dim, D},
                             {"attn_output", D, D}, {"ffn_gate", H, D},    {"ffn_down", D, H},
                             {"ffn_up", H, D}};
  const DType f32 = DType::kF32;
  if (c.version == 0) {
    // Embedding; per array all layers: attn norm, wq, wk, wv, wo, ffn norm, w1, w2, w3.
    WG_TRY(b.Add("token_embd.weight", f32, {V, D}));
    WG_TRY(b.AddLayers("attn_norm", f32, {D}, L));
    for (int m = 0; m < 4; ++m)
      WG_TRY(b.AddLayers(matrices[m].what, f32, {matrices[m].rows, matrices[m].cols}, L));
    WG_TRY(b.AddLayers("ffn_norm", f32, {D}, L));
    for (int m = 4; m < 7; ++m)
      WG_TRY(b.AddLayers(matrices[m].what, f32, {matrices[m].rows, matrices[m].cols}, L));
    WG_TRY(b.Add("output_norm.weight", f32, {D}));
    *tables_offset = b.at();
    // freq_cis_real and freq_cis_imag, (seq_len, head/2) float32 each: below 2^64.
    if (rope_tables) WG_TRY(b.Skip(2 * uint64_t(c.seq_len) * (head / 2) * 4, "freq_cis"));
    if (!c.shared_classifier) WG_TRY(b.Add("output.weight", f32, {V, D}));
    return b.at();
  }
  WG_TRY(b.AddLayers("attn_norm", f32, {D}, L));
  WG_TRY(b.AddLayers("ffn_norm", f32, {D}, L));
  WG_TRY(b.Add("output_norm.weight", f32, {D}));
  if (c.version == 1) {
    WG_TRY(b.Add("token_embd.weight", f32, {V, D}));
    for (const Matrix& m : matrices) WG_TRY(b.AddLayers(m.what, f32, {m.rows, m.cols}, L));
    if (!c.shared_classifier) WG_TRY(b.Add("output.weight", f32, {V, D}));
  } else {
    const uint64_t gs = c.group_size;
    WG_TRY(b.AddQ8("token_embd.weight", {V, D}, gs));
    for (const Matrix& m : matrices) WG_TRY(b.AddQ8Layers(m.what, {m.rows, m.cols}, gs, L));
    if (!c.shared_classifier) WG_TRY(b.AddQ8("output.weight", {V, D}, gs));
  }
  return b.at();
}

// Checks the seven dimensions; `at` is the offset of the first.
Status CheckConfig(const Llama2cConfig& c, const int32_t (&raw)[7], uint64_t at,
                   const std::string& path) {
  for (int i = 0; i < 7; ++i) {
    bool legacy_vocab = i == 5 && c.version == 0;
    bool bad = legacy_vocab ? (raw[i] == 0 || raw[i] == INT32_MIN) : raw[i] <= 0;
    if (bad)
      return Error::Malformed("llama2.c header field out of range")
          .File(path)
          .Offset(at + 4 * i)
          .Field(kFieldNames[i])
          .Expected(legacy_vocab ? "nonzero (negative: unshared classifier)" : "> 0")
          .Found(std::to_string(raw[i]));
  }
  if (c.dim % c.n_heads != 0)
    return Error::Malformed("dim is not divisible by n_heads")
        .File(path)
        .Offset(at + 12)
        .Field("n_heads")
        .Expected("a divisor of dim " + std::to_string(c.dim))
        .Found(std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    return Error::Malformed("n_heads is not divisible by n_kv_heads")
        .File(path)
        .Offset(at + 16)
        .Field("n_kv_heads")
        .Expected("a divisor of n_heads " + std::to_string(c.n_heads))
        .Found(std::to_string(c.n_kv_heads));
  if ((c.dim / c.n_heads) % 2 != 0)
    return Error::Malformed("head size is odd; RoPE rotates pairs of values")
        .File(path)
        .Offset(at + 12)
        .Field("n_heads")
        .Expected("dim / n_heads even")
        .Found(std::to_string(c.dim) + " / " + std::to_string(c.n_heads));
  return Ok();
}

// The header fields and padding of a version 1 or 2 file.
Status ReadVersionedHeader(ByteReader& r, Llama2cConfig& c, int32_t (&raw)[7],
                           const std::string& path) {
  WG_TRY(r.Skip(4, "magic"));
  WG_ASSIGN_OR_RETURN(c.version, r.Read<int32_t>("version"));
  if (c.version != 1 && c.version != 2)
    return Error::Unsupported("unknown llama2.c checkpoint version")
        .File(path)
        .Offset(4)
        .Field("version")
        .Expected("1 or 2")
        .Found(std::to_string(c.version));
  for (int i = 0; i < 7; ++i) {
    WG_ASSIGN_OR_RETURN(raw[i], r.Read<int32_t>(kFieldNames[i]));
  }
  WG_ASSIGN_OR_RETURN(uint8_t shared, r.Read<uint8_t>("shared_classifier"));
  if (shared > 1)
    return Error::Malformed("shared_classifier flag is not 0 or 1")
        .File(path)
        .Offset(36)
        .Field("shared_classifier")
        .Expected("0 or 1")
        .Found(std::to_string(shared));
  c.shared_classifier = shared == 1;
  if (c.version == 2) {
    WG_ASSIGN_OR_RETURN(c.group_size, r.Read<int32_t>("group_size"));
    if (c.group_size <= 0)
      return Error::Malformed("quantization group size out of range")
          .File(path)
          .Offset(37)
          .Field("group_size")
          .Expected("> 0")
          .Found(std::to_string(c.group_size));
  }
  // export.py pads with zeros; anything else is corruption (or a format we do not know).
  for (uint64_t i = r.pos(); i < kVersionedHeaderBytes; ++i)
    if (r.data()[i] != 0)
      return Error::Malformed("nonzero byte in the header padding")
          .File(path)
          .Offset(i)
          .Field("padding")
          .Expected("zeros up to byte 256")
          .Found(std::to_string(r.data()[i]));
  return r.Seek(kVersionedHeaderBytes, "header");
}

}  // namespace

Result<Llama2cLayout> PlanLlama2c(Bytes file, const std::string& path) {
  Llama2cLayout out;
  Llama2cConfig& c = out.config;
  ByteReader r(file, path);
  int32_t raw[7] = {};
  uint64_t fields_at = 0;
  uint32_t magic = 0;
  if (file.size() >= 4) std::memcpy(&magic, file.data(), 4);

  if (magic == kMagic) {
    if (file.size() < kVersionedHeaderBytes)
      return Error::Malformed("file too small for a llama2.c version 1/2 header")
          .File(path)
          .Offset(file.size())
          .Expected("at least 256 bytes")
          .Found(std::to_string(file.size()) + " bytes");
    WG_TRY(ReadVersionedHeader(r, c, raw, path));
    fields_at = 8;
    out.header_bytes = kVersionedHeaderBytes;
  } else {
    if (file.size() < kLegacyHeaderBytes)
      return Error::Malformed("file too small for a llama2.c header (7 int32, no magic)")
          .File(path)
          .Offset(file.size())
          .Expected("at least 28 bytes")
          .Found(std::to_string(file.size()) + " bytes");
    for (int i = 0; i < 7; ++i) {
      WG_ASSIGN_OR_RETURN(raw[i], r.Read<int32_t>(kFieldNames[i]));
    }
    c.version = 0;
    out.header_bytes = kLegacyHeaderBytes;
  }
  c.dim = raw[0];
  c.hidden_dim = raw[1];
  c.n_layers = raw[2];
  c.n_heads = raw[3];
  c.n_kv_heads = raw[4];
  c.seq_len = raw[6];
  if (c.version == 0) c.shared_classifier = raw[5] > 0;
  c.vocab_size = raw[5] == INT32_MIN ? 0 : (raw[5] < 0 ? -raw[5] : raw[5]);
  WG_TRY(CheckConfig(c, raw, fields_at, path));
  if (c.version == 2 && c.dim % c.group_size != 0)
    return Error::Malformed("dim is not divisible by the quantization group size")
        .File(path)
        .Offset(37)
        .Field("group_size")
        .Expected("a divisor of dim " + std::to_string(c.dim))
        .Found(std::to_string(c.group_size));

  // Where the file must end, computed before any array is listed. Legacy files keep the
  // RoPE tables before the classifier; run.c needs them there only when a classifier
  // follows, so a shared-classifier file may end right after the final norm.
  const uint64_t size = file.size();
  uint64_t tables_offset = 0;
  WG_ASSIGN_OR_RETURN(uint64_t expected,
                      LayArrays(c, path, out.header_bytes, true, nullptr, &tables_offset));
  std::string expected_text = std::to_string(expected) + " bytes";
  if (c.version == 0) {
    c.rope_tables = true;
    if (c.shared_classifier) {
      WG_ASSIGN_OR_RETURN(uint64_t without,
                          LayArrays(c, path, out.header_bytes, false, nullptr, &tables_offset));
      if (size == without) {
        c.rope_tables = false;
        expected = without;
      }
      expected_text += " (with freq_cis tables) or " + std::to_string(without) + " (without)";
    } else {
      expected_text += " (with freq_cis tables and the unshared classifier)";
    }
  }
  if (size != expected)
    return Error::Malformed("file size is not what the llama2.c header predicts")
        .File(path)
        .Offset(std::min(size, expected))
        .Field("file size")
        .Expected(expected_text + " for version " + std::to_string(c.version) + " " + ConfigText(c))
        .Found(std::to_string(size) + " bytes");
  WG_TRY(LayArrays(c, path, out.header_bytes, c.rope_tables, &out.arrays, &tables_offset));
  if (c.rope_tables) {
    out.rope_tables_offset = tables_offset;
    out.rope_tables_bytes = 2 * uint64_t(c.seq_len) * (c.dim / c.n_heads / 2) * 4;
  }
  return out;
}

}  // namespace wg::llama2c_detail
