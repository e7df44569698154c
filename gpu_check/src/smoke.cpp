#include "weightgate/gpu_check/smoke.h"

#include <chrono>
#include <cmath>

#include "weightgate/gpu_check/cpu_reference.h"

namespace wg {

Result<SmokePass> RunCpuSmoke(const LlamaModel& model, const SmokeOptions& options) {
  if (!model.tokenizer)
    return Error::Usage("the model has no tokenizer: name one with --tokenizer").File(model.source);
  if (options.tokens < 0) return Error::Usage("--tokens must be >= 0");
  SmokePass pass;
  pass.device = "cpu";
  pass.prompt_ids = model.tokenizer->Encode(options.prompt, /*add_bos=*/true);
  const int32_t steps = static_cast<int32_t>(pass.prompt_ids.size()) + options.tokens;
  if (steps > model.config.seq_len)
    return Error::Usage("prompt and --tokens exceed the model's context")
        .File(model.source)
        .Expected("<= " + std::to_string(model.config.seq_len) + " positions")
        .Found(std::to_string(steps));

  CpuReference cpu(model, steps);
  const auto start = std::chrono::steady_clock::now();
  int32_t token = pass.prompt_ids[0];
  int32_t passes = 0;
  for (int32_t pos = 0; pos + 1 < steps; ++pos) {
    WG_ASSIGN_OR_RETURN(const std::vector<float>* logits, cpu.Forward(token, pos));
    ++passes;
    for (float v : *logits) {
      pass.nan_count += std::isnan(v);
      pass.inf_count += std::isinf(v);
    }
    const int32_t next = pos + 1 < static_cast<int32_t>(pass.prompt_ids.size())
                             ? pass.prompt_ids[pos + 1]
                             : Argmax(*logits);
    if (next == model.tokenizer->bos_id()) break;
    pass.next_ids.push_back(next);
    token = next;
  }
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pass.tokens_per_second = pass.seconds > 0 ? passes / pass.seconds : 0;
  pass.text = model.tokenizer->DecodeAll(pass.next_ids);
  return pass;
}

}  // namespace wg
