// Memory-fit plan: will this model fit on that GPU, for a given context and batch,
// without running anything (gpu-check --plan).
//
//   weights   = the catalogue's tensor bytes, as stored (quantized blocks stay quantized)
//   kv_cache  = 2 (K and V) x layers x kv_heads x head_dim x context x batch x kv_bytes
//   workspace = 512 MiB (CUDA context, cuBLAS workspace, allocator slack)
//             + 4 x batch x (vocab + 3 x dim + 2 x hidden_dim + heads x context)
//               (float32 logits, residual and MLP activations, attention scores of one
//               decode step)
//   fits      when weights + kv_cache + workspace <= the GPU's memory
// GPU memory in the built-in table is the marketed size read as GiB (80 GB -> 80 GiB);
// the 512 MiB reservation stands for what the driver keeps back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/gpu_check/llama_model.h"

namespace wg {

struct GpuTarget {
  std::string name;  // "H100-80GB"
  uint64_t memory_bytes = 0;
};
// The built-in table, in display order.
const std::vector<GpuTarget>& KnownGpus();
// "H100-80GB,A100-40GB,MyCard:12" -> targets; a NAME:GiB entry defines a custom GPU
// (GiB may be fractional). Names are matched case-insensitively. "all": the whole table.
Result<std::vector<GpuTarget>> ParseGpuTargets(const std::string& list);

struct PlanShape {
  int64_t layers = 0, heads = 0, kv_heads = 0, head_dim = 0, dim = 0, hidden_dim = 0, vocab = 0;
  uint64_t weights_bytes = 0;
  static PlanShape Of(const LlamaModel& model);  // weights from the catalogue
};

struct PlanOptions {
  int64_t context = 0;  // 0: the model's context length (caller fills in)
  int64_t batch = 1;
  int64_t kv_bytes = 2;  // F16 cache
};

inline constexpr uint64_t kWorkspaceReserve = 512ull << 20;

struct PlanRow {
  GpuTarget target;
  uint64_t weights = 0, kv_cache = 0, workspace = 0, total = 0;
  bool fits = false;
  int64_t max_context = 0;  // the longest context that fits at this batch (0: none)
};

uint64_t KvCacheBytes(const PlanShape& s, const PlanOptions& o);
uint64_t WorkspaceBytes(const PlanShape& s, const PlanOptions& o);
std::vector<PlanRow> PlanMemory(const PlanShape& shape, const PlanOptions& options,
                                const std::vector<GpuTarget>& targets);

}  // namespace wg
