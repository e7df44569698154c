#include "weightgate/gpu_check/tokenizer.h"

#include <cstdio>

namespace wg {
namespace {

std::string SpaceForSentencePieceMarker(std::string s) {
  static const std::string kMarker = "\xE2\x96\x81";  // U+2581
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, kMarker.size(), kMarker) == 0) {
      out += ' ';
      i += kMarker.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

// "<0xAB>" -> 0xAB; -1 when the piece is not a byte token.
int ByteOfPiece(const std::string& p) {
  unsigned v = 0;
  char tail = 0;
  if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%02X%c", &v, &tail) == 2 && tail == '>')
    return static_cast<int>(v);
  return -1;
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> pieces, std::vector<float> scores, int32_t bos_id,
                     int32_t eos_id)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), bos_id_(bos_id), eos_id_(eos_id) {
  scores_.resize(pieces_.size(), 0.0f);
  for (int& b : byte_ids_) b = -1;
  for (size_t i = 0; i < pieces_.size(); ++i) {
    pieces_[i] = SpaceForSentencePieceMarker(pieces_[i]);
    ids_.emplace(pieces_[i], static_cast<int32_t>(i));  // first one wins, as run.c's bsearch
    int b = ByteOfPiece(pieces_[i]);
    if (b >= 0 && byte_ids_[b] < 0) byte_ids_[b] = static_cast<int32_t>(i);
  }
}

int32_t Tokenizer::Lookup(std::string_view s) const {
  auto it = ids_.find(std::string(s));
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(bos_id_);
  if (!text.empty()) {
    int32_t space = Lookup(" ");
    if (space >= 0) ids.push_back(space);
  }
  // One id per UTF-8 code point present in the vocabulary, else its bytes.
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    while (i + len < text.size() && len < 4 &&
           (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80)
      ++len;
    int32_t id = Lookup(text.substr(i, len));
    if (id >= 0) {
      ids.push_back(id);
    } else {
      for (size_t j = 0; j < len; ++j) {
        unsigned char byte = static_cast<unsigned char>(text[i + j]);
        int32_t b = byte_ids_[byte] >= 0 ? byte_ids_[byte] : byte + 3;
        if (b < static_cast<int32_t>(pieces_.size())) ids.push_back(b);
      }
    }
    i += len;
  }
  // Merge the best-scoring adjacent pair until none merges.
  const size_t first = add_bos ? 1 : 0;
  for (;;) {
    float best_score = -1e10f;
    int32_t best_id = -1;
    size_t best_at = 0;
    for (size_t i = first; i + 1 < ids.size(); ++i) {
      int32_t id = Lookup(pieces_[ids[i]] + pieces_[ids[i + 1]]);
      if (id >= 0 && scores_[id] > best_score) {
        best_score = scores_[id];
        best_id = id;
        best_at = i;
      }
    }
    if (best_id < 0) break;
    ids[best_at] = best_id;
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }
  return ids;
}

std::string Tokenizer::Decode(int32_t prev, int32_t token) const {
  if (token < 0 || token >= static_cast<int32_t>(pieces_.size())) return "";
  std::string piece = pieces_[token];
  if (prev == bos_id_ && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  int b = ByteOfPiece(piece);
  if (b >= 0) return std::string(1, static_cast<char>(b));
  return piece;
}

std::string Tokenizer::DecodeAll(const std::vector<int32_t>& tokens) const {
  std::string out;
  int32_t prev = bos_id_;
  for (int32_t t : tokens) {
    out += Decode(prev, t);
    prev = t;
  }
  return out;
}

}  // namespace wg
