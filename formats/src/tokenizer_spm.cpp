// SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) read with a small
// bounds-checked protobuf reader: only the pieces (field 1: piece, score, type) and the
// trainer spec's special ids (fields 40-43) matter for GGUF. Types map as
// convert_hf_to_gguf.py's _create_vocab_sentencepiece maps them (user-defined -> normal).
// The writer produces the same subset, so a Hugging Face folder we write round-trips.
#include <cstring>

#include "convert_internal.h"

namespace wg::convert_detail {
namespace {

class ProtoReader {
 public:
  ProtoReader(const uint8_t* p, uint64_t n, uint64_t base, const std::string& path)
      : p_(p), n_(n), base_(base), path_(path) {}
  bool done() const { return pos_ >= n_; }
  uint64_t offset() const { return base_ + pos_; }

  Result<uint64_t> Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= n_) return Bad("varint runs past the end");
      uint8_t b = p_[pos_++];
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return Bad("varint longer than 10 bytes");
  }
  // Reads a key; returns field number and wire type.
  Status Key(uint32_t* field, uint32_t* wire) {
    WG_ASSIGN_OR_RETURN(uint64_t k, Varint());
    *field = static_cast<uint32_t>(k >> 3);
    *wire = static_cast<uint32_t>(k & 7);
    return Ok();
  }
  Result<ProtoReader> Sub() {
    WG_ASSIGN_OR_RETURN(uint64_t len, Varint());
    if (len > n_ - pos_) return Bad("length-delimited field runs past the end");
    ProtoReader r(p_ + pos_, len, base_ + pos_, path_);
    pos_ += len;
    return r;
  }
  std::string_view Rest() const { return {reinterpret_cast<const char*>(p_), n_}; }
  Result<float> Fixed32() {
    if (n_ - pos_ < 4) return Bad("fixed32 runs past the end");
    float f;
    std::memcpy(&f, p_ + pos_, 4);
    pos_ += 4;
    return f;
  }
  Status Skip(uint32_t wire) {
    switch (wire) {
      case 0:
        return Varint().ok() ? Ok() : Status(Bad("bad varint"));
      case 1:
        if (n_ - pos_ < 8) return Bad("fixed64 runs past the end");
        pos_ += 8;
        return Ok();
      case 2: {
        Result<ProtoReader> r = Sub();
        if (!r.ok()) return std::move(r).error();
        return Ok();
      }
      case 5:
        if (n_ - pos_ < 4) return Bad("fixed32 runs past the end");
        pos_ += 4;
        return Ok();
      default:
        return Bad("unknown protobuf wire type " + std::to_string(wire));
    }
  }
  Error Bad(std::string m) const {
    return Error::Malformed("tokenizer.model: " + m).File(path_).Offset(base_ + pos_);
  }

 private:
  const uint8_t* p_;
  uint64_t n_;
  uint64_t base_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void PutKey(std::string& out, uint32_t field, uint32_t wire) {
  PutVarint(out, field << 3 | wire);
}
void PutBytes(std::string& out, uint32_t field, std::string_view s) {
  PutKey(out, field, 2);
  PutVarint(out, s.size());
  out += s;
}
void PutInt(std::string& out, uint32_t field, int64_t v) {
  PutKey(out, field, 0);
  PutVarint(out, static_cast<uint64_t>(v));
}

}  // namespace

Result<GgufTokenizer> ReadSentencePieceModel(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string data, ReadSmallFile(path, 256 << 20));
  ProtoReader top(reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0, path);
  GgufTokenizer t;
  t.model = "llama";
  int64_t unk = 0, bos = 1, eos = 2, pad = -1;  // TrainerSpec defaults
  while (!top.done()) {
    uint32_t field = 0, wire = 0;
    WG_TRY(top.Key(&field, &wire));
    if (field == 1 && wire == 2) {
      WG_ASSIGN_OR_RETURN(ProtoReader piece, top.Sub());
      std::string text;
      float score = 0;
      uint64_t type = 1;
      while (!piece.done()) {
        uint32_t f = 0, w = 0;  // set by Key() whenever it succeeds
        WG_TRY(piece.Key(&f, &w));
        if (f == 1 && w == 2) {
          WG_ASSIGN_OR_RETURN(ProtoReader s, piece.Sub());
          text = std::string(s.Rest());
        } else if (f == 2 && w == 5) {
          WG_ASSIGN_OR_RETURN(score, piece.Fixed32());
        } else if (f == 3 && w == 0) {
          WG_ASSIGN_OR_RETURN(type, piece.Varint());
        } else {
          WG_TRY(piece.Skip(w));
        }
      }
      int32_t tt = kTokenNormal;
      switch (type) {
        case 2:
          tt = kTokenUnknown;
          break;
        case 3:
          tt = kTokenControl;
          break;
        case 5:
          tt = kTokenUnused;
          break;
        case 6:
          tt = kTokenByte;
          break;
        case 1:
        case 4:
          tt = kTokenNormal;
          break;
        default:
          return piece.Bad("unknown piece type " + std::to_string(type));
      }
      t.tokens.push_back(std::move(text));
      t.scores.push_back(score);
      t.types.push_back(tt);
    } else if (field == 2 && wire == 2) {
      WG_ASSIGN_OR_RETURN(ProtoReader spec, top.Sub());
      while (!spec.done()) {
        uint32_t f = 0, w = 0;  // set by Key() whenever it succeeds
        WG_TRY(spec.Key(&f, &w));
        if (w == 0 && f >= 40 && f <= 43) {
          WG_ASSIGN_OR_RETURN(uint64_t v, spec.Varint());
          const int64_t id = static_cast<int32_t>(static_cast<uint32_t>(v));
          (f == 40 ? unk : f == 41 ? bos : f == 42 ? eos : pad) = id;
        } else {
          WG_TRY(spec.Skip(w));
        }
      }
    } else {
      WG_TRY(top.Skip(wire));
    }
  }
  if (t.tokens.empty())
    return Error::Malformed("tokenizer.model holds no pieces")
        .File(path)
        .Expected("a SentencePiece model");
  auto id = [&](int64_t v) -> std::optional<uint32_t> {
    if (v < 0 || static_cast<uint64_t>(v) >= t.tokens.size()) return std::nullopt;
    return static_cast<uint32_t>(v);
  };
  t.unk = id(unk);
  t.bos = id(bos);
  t.eos = id(eos);
  t.pad = id(pad);
  return t;
}

std::string WriteSentencePieceModel(const GgufTokenizer& t) {
  std::string out;
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    std::string piece;
    PutBytes(piece, 1, t.tokens[i]);
    PutKey(piece, 2, 5);
    float score = i < t.scores.size() ? t.scores[i] : 0.0f;
    piece.append(reinterpret_cast<const char*>(&score), 4);
    int32_t type = i < t.types.size() ? t.types[i] : kTokenNormal;
    PutInt(piece, 3, type == kTokenUserDefined ? 4 : type);
    PutBytes(out, 1, piece);
  }
  // TrainerSpec: model_type BPE, vocab_size, byte_fallback when byte pieces exist, and the
  // special ids (-1 = none).
  std::string spec;
  PutInt(spec, 3, 2);
  PutInt(spec, 4, static_cast<int64_t>(t.tokens.size()));
  bool bytes = false;
  for (int32_t ty : t.types) bytes = bytes || ty == kTokenByte;
  if (bytes) PutInt(spec, 35, 1);
  auto put_id = [&](uint32_t field, const std::optional<uint32_t>& v) {
    PutInt(spec, field, v ? static_cast<int64_t>(*v) : -1);
  };
  put_id(40, t.unk);
  put_id(41, t.bos);
  put_id(42, t.eos);
  put_id(43, t.pad);
  PutBytes(out, 2, spec);
  // NormalizerSpec: identity normalization with a dummy prefix and escaped whitespace, as
  // Llama's tokenizer uses.
  std::string norm;
  PutBytes(norm, 1, "identity");
  PutInt(norm, 3, 1);  // add_dummy_prefix
  PutInt(norm, 4, 0);  // remove_extra_whitespaces
  PutInt(norm, 5, 1);  // escape_whitespaces
  PutBytes(out, 3, norm);
  return out;
}

}  // namespace wg::convert_detail
