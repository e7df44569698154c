// The device half of `weightgate gpu-check`: run the CUDA twin on each selected GPU over
// the CPU pass's token stream and judge its logits against the CPU reference.
//
// Teacher forcing: every device is fed the CPU pass's tokens (prompt, then the CPU's
// greedy continuation), so that its logits at each position are comparable with the
// CPU's however early a near-tie might flip a greedy choice. The device's own argmax
// at each position is its "generated" token; its text is decoded from those.
//
// Pass/fail per device (documented in docs/gpu_check.md, "CUDA twin"):
//  - no NaN or Inf in the device logits;
//  - at every position, max |device - cpu| <= tolerance(dtype) * max(1, max |cpu|);
//  - top-1 agreement at every position, except where the CPU's two best logits are
//    within that same tolerance (a near-tie either answer is right for).
// The tolerance is that of the dtype holding most of the model's matrix bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"
#include "weightgate/gpu_check/cuda_forward.h"
#include "weightgate/gpu_check/llama_model.h"
#include "weightgate/gpu_check/smoke.h"

namespace wg {

// Relative logit tolerance of a device pass for weights of `dtype`.
double LogitTolerance(DType dtype);
// The dtype holding most of the model's matrix bytes.
DType DominantWeightDType(const LlamaModel& model);

struct LogitComparison {
  int32_t positions = 0;
  int32_t top1_agree = 0;      // positions whose argmax equals the CPU's
  int32_t top1_near_ties = 0;  // disagreements the CPU's top-2 margin excuses
  double max_abs_error = 0;    // over all positions and logits
  double max_rel_error = 0;    // per position: max abs error / max(1, max |cpu logit|)
  double tolerance = 0;        // the relative tolerance applied
  uint64_t nan = 0, inf = 0;   // in the device logits
  bool passed = false;
  std::string why;  // the first failure, in words; empty when passed
};

// Compares per-position device logits with the CPU's (same shapes).
LogitComparison CompareLogits(const std::vector<std::vector<float>>& cpu,
                              const std::vector<std::vector<float>>& device, double tolerance);

// Parses --device: "all" or a comma-separated list of indices below `visible`.
Result<std::vector<int>> ParseDeviceList(const std::string& spec, int visible);

struct DevicePass {
  CudaDeviceInfo device;
  CudaLoadStats load;
  SmokePass pass;  // device name, token ids (the device's argmax), text, NaN/Inf, speed
  LogitComparison comparison;
  bool passed = false;
  std::string error;  // a CUDA or load error that stopped this device; passed is false
};

struct DeviceCheckReport {
  bool cuda_built = false;
  std::string no_device;  // why no device ran, when none did
  std::string dtype;      // the weights' dominant dtype
  std::vector<DevicePass> passes;
};

// Runs every device selected by `devices` ("all" or "0,2") over `cpu`'s tokens.
// `cpu_logits` are the CPU reference's logits per position if the caller kept them;
// otherwise they are recomputed once. Bad --device values are usage errors; a device
// that fails to run is a failed pass, not an error.
Result<DeviceCheckReport> RunDevicePasses(
    const LlamaModel& model, const SmokePass& cpu, const std::string& devices,
    const std::vector<std::vector<float>>* cpu_logits = nullptr);

}  // namespace wg
