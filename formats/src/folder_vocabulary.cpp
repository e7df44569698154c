#include "weightgate/formats/folder_vocabulary.h"

#include "convert_internal.h"

namespace wg {

Result<std::optional<ScoredVocabulary>> ReadFolderVocabulary(const std::string& folder) {
  WG_ASSIGN_OR_RETURN(auto tok, convert_detail::LoadFolderTokenizer(folder));
  if (!tok || tok->model != "llama") return std::optional<ScoredVocabulary>();
  ScoredVocabulary v;
  v.pieces = std::move(tok->tokens);
  v.scores = std::move(tok->scores);
  v.scores.resize(v.pieces.size(), 0.0f);
  if (tok->bos) v.bos_id = static_cast<int32_t>(*tok->bos);
  if (tok->eos) v.eos_id = static_cast<int32_t>(*tok->eos);
  return std::optional<ScoredVocabulary>(std::move(v));
}

}  // namespace wg
