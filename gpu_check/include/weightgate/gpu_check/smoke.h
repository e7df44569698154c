// Smoke inference: one prompt through a model, greedy, with the numbers a release
// engineer needs to trust that the artifact computes (tokens, text, NaN/Inf census,
// speed). The CPU pass always runs; it is also what a GPU pass is compared against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/gpu_check/llama_model.h"

namespace wg {

struct SmokeOptions {
  std::string prompt = "Once upon a time";
  int32_t tokens = 32;  // generated after the prompt
};

struct SmokePass {
  std::string device;  // "cpu" or the GPU's name
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> next_ids;  // prompt echo included, as run.c prints
  std::string text;
  uint64_t nan_count = 0, inf_count = 0;  // over every logit computed
  double seconds = 0;
  double tokens_per_second = 0;  // forward passes per second
};

Result<SmokePass> RunCpuSmoke(const LlamaModel& model, const SmokeOptions& options);

}  // namespace wg
