// gpu-check --plan: the memory-fit table (or JSON) for a model on a list of GPUs.
#pragma once

#include <string>

#include "weightgate/gpu_check/memory_plan.h"

namespace wg::cli {

struct PlanArgs {
  std::string targets = "H100-80GB,A100-40GB,L40S-48GB,L4-24GB,RTX4090-24GB";
  int64_t context = 0;  // 0: the model's context length
  int64_t batch = 1;
};

// Prints the plan; returns 0 when the model fits on every target, 1 otherwise.
int PrintMemoryPlan(const std::string& path, const LlamaModel& model, const PlanArgs& args,
                    bool json);

}  // namespace wg::cli
