// llama2.c tokenizer.bin -> GGUF vocabulary, spelled as llama.cpp's
// convert-llama2c-to-ggml spells it: ids 0/1/2 are <unk>/<s>/</s>, "<0xHH>" pieces are
// byte tokens, and the exporter's plain spaces go back to SentencePiece's U+2581.
#include "convert_internal.h"

namespace wg::convert_detail {
namespace {

bool IsByteToken(const std::string& s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

std::string EscapeWhitespace(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ')
      out += "\xe2\x96\x81";  // U+2581
    else
      out += c;
  }
  return out;
}

}  // namespace

GgufTokenizer TokenizerFromLlama2c(const Llama2cTokenizer& t) {
  GgufTokenizer g;
  g.model = "llama";
  for (size_t id = 0; id < t.pieces.size(); ++id) {
    std::string text = t.pieces[id];
    int32_t type = kTokenNormal;
    if (id == 0) {
      text = "<unk>";
      type = kTokenUnknown;
    } else if (id == 1) {
      text = "<s>";
      type = kTokenControl;
    } else if (id == 2) {
      text = "</s>";
      type = kTokenControl;
    } else if (text.empty()) {
      type = kTokenControl;
    } else if (IsByteToken(text)) {
      type = kTokenByte;
    }
    g.tokens.push_back(EscapeWhitespace(text));
    g.scores.push_back(id < t.scores.size() ? t.scores[id] : 0.0f);
    g.types.push_back(type);
  }
  g.unk = 0;
  g.bos = 1;
  g.eos = 2;
  return g;
}

}  // namespace wg::convert_detail
