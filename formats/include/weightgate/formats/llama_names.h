// Llama tensor names: Hugging Face <-> GGUF, as llama.cpp's converter maps them.
//
// The converter and the smoke-inference pass must agree on what "blk.3.attn_q.weight"
// is in a Hugging Face folder, so the mapping lives in one place (formats/) and both
// call it.
#pragma once

#include <optional>
#include <string>

namespace wg {

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; nullopt for names
// outside the Llama architecture.
std::optional<std::string> LlamaGgufNameOf(const std::string& hf_name);

}  // namespace wg
