// Tokenizer: SentencePiece-style BPE over a scored vocabulary, as llama2.c's run.c
// and llama.cpp's "llama" vocabulary encode text.
//
// The smoke-inference pass needs to turn a prompt into ids and generated ids back into
// text so that a report shows what the model said. Encoding: a BOS id, a dummy-prefix
// space, one id per UTF-8 code point found in the vocabulary (bytes of the others as
// <0xXX> tokens), then repeated merges of the adjacent pair whose concatenation has the
// highest score. Pieces use ' ' for the SentencePiece '▁' (U+2581), whatever the source.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "weightgate/core/error.h"

namespace wg {

class Tokenizer {
 public:
  // pieces[i] with scores[i]; '▁' is mapped to ' '. Byte tokens are found by name.
  Tokenizer(std::vector<std::string> pieces, std::vector<float> scores, int32_t bos_id = 1,
            int32_t eos_id = 2);

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const;
  // The text of `token` following `prev`: a leading space after BOS is dropped and
  // <0xXX> pieces become their byte, as run.c prints them.
  std::string Decode(int32_t prev, int32_t token) const;
  std::string DecodeAll(const std::vector<int32_t>& tokens) const;  // tokens[0] follows BOS

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  size_t size() const { return pieces_.size(); }
  const std::string& piece(int32_t id) const { return pieces_[id]; }

 private:
  int32_t Lookup(std::string_view s) const;  // -1 when absent

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t byte_ids_[256];
  int32_t bos_id_, eos_id_;
};

}  // namespace wg
