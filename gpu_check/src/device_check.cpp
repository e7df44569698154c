#include "weightgate/gpu_check/device_check.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "weightgate/gpu_check/cpu_reference.h"
#include "weightgate/gpu_check/devices.h"

namespace wg {

double LogitTolerance(DType dtype) {
  // Both twins read the same weights, so these bound arithmetic differences only (FP32
  // accumulation on the device against double on the host, growing with depth and
  // width), not quantization error. Quantized formats get more room because their
  // activations carry larger outliers.
  switch (dtype) {
    case DType::kF32:
      return 1e-3;
    case DType::kF16:
    case DType::kBF16:
      return 2e-3;
    default:
      return 5e-3;  // Q8_0, Q4_0, Q4_K, Q6_K
  }
}

DType DominantWeightDType(const LlamaModel& model) {
  std::map<DType, uint64_t> bytes;
  for (const LlamaLayerWeights& l : model.layers)
    for (const TensorInfo* t : {l.wq, l.wk, l.wv, l.wo, l.w_gate, l.w_down, l.w_up})
      bytes[t->dtype] += t->nbytes;
  if (model.output) bytes[model.output->dtype] += model.output->nbytes;
  DType best = DType::kF32;
  uint64_t most = 0;
  for (const auto& [d, b] : bytes)
    if (b > most) most = b, best = d;
  return best;
}

LogitComparison CompareLogits(const std::vector<std::vector<float>>& cpu,
                              const std::vector<std::vector<float>>& device, double tolerance) {
  LogitComparison r;
  r.tolerance = tolerance;
  r.positions = static_cast<int32_t>(std::min(cpu.size(), device.size()));
  if (cpu.size() != device.size()) r.why = "the device computed a different number of positions";
  for (int32_t p = 0; p < r.positions; ++p) {
    const std::vector<float>& a = cpu[p];
    const std::vector<float>& b = device[p];
    if (a.size() != b.size() || a.empty()) {
      if (r.why.empty()) r.why = "logit vectors differ in length at position " + std::to_string(p);
      continue;
    }
    double scale = 1, pos_err = 0;
    for (float v : a) scale = std::max(scale, std::fabs(static_cast<double>(v)));
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(b[i])) ++r.nan;
      if (std::isinf(b[i])) ++r.inf;
      const double err = std::fabs(static_cast<double>(a[i]) - b[i]);
      pos_err = std::isnan(err) ? INFINITY : std::max(pos_err, err);
    }
    r.max_abs_error = std::max(r.max_abs_error, pos_err);
    r.max_rel_error = std::max(r.max_rel_error, pos_err / scale);
    if (r.why.empty() && pos_err > tolerance * scale)
      r.why = "logit error " + std::to_string(pos_err) + " at position " + std::to_string(p) +
              " exceeds the tolerance " + std::to_string(tolerance * scale);
    const int32_t top_cpu = Argmax(a), top_dev = Argmax(b);
    if (top_cpu == top_dev) {
      ++r.top1_agree;
      continue;
    }
    // The CPU's margin between its best and the device's choice excuses a near-tie.
    const double margin = static_cast<double>(a[top_cpu]) - a[top_dev];
    if (margin <= tolerance * scale) {
      ++r.top1_near_ties;
    } else if (r.why.empty()) {
      r.why = "top-1 token differs at position " + std::to_string(p) + " (cpu " +
              std::to_string(top_cpu) + ", device " + std::to_string(top_dev) + ")";
    }
  }
  if (r.why.empty() && (r.nan || r.inf)) r.why = "NaN or Inf in the device logits";
  r.passed = r.why.empty();
  return r;
}

Result<std::vector<int>> ParseDeviceList(const std::string& spec, int visible) {
  std::vector<int> out;
  if (spec == "all") {
    for (int i = 0; i < visible; ++i) out.push_back(i);
    return out;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    const bool digits =
        !item.empty() && item.size() <= 6 &&
        std::all_of(item.begin(), item.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    const int index = digits ? std::stoi(item) : -1;
    if (index < 0 || index >= visible)
      return Error::Usage("--device names a GPU that is not visible")
          .Field("--device")
          .Expected(visible > 0 ? "all or indices 0.." + std::to_string(visible - 1) : "all")
          .Found(item.empty() ? "(empty)" : item);
    if (std::find(out.begin(), out.end(), index) == out.end()) out.push_back(index);
    start = comma + 1;
  }
  return out;
}

namespace {

// The tokens fed at positions 0..n-1 of the CPU pass (n = its number of predictions).
std::vector<int32_t> FedTokens(const SmokePass& cpu) {
  std::vector<int32_t> fed;
  if (cpu.prompt_ids.empty()) return fed;
  fed.push_back(cpu.prompt_ids[0]);
  for (size_t i = 0; i + 1 < cpu.next_ids.size(); ++i) fed.push_back(cpu.next_ids[i]);
  if (cpu.next_ids.empty()) fed.clear();
  return fed;
}

void RunOneDevice(const LlamaModel& model, const SmokePass& cpu, const std::vector<int32_t>& fed,
                  const std::vector<std::vector<float>>& cpu_logits, double tolerance,
                  DevicePass* out) {
  out->pass.device = out->device.name;
  out->pass.prompt_ids = cpu.prompt_ids;
  const int32_t n = static_cast<int32_t>(fed.size());
  auto fwd = CudaForward::Create(model, out->device.index, std::max(n, 1));
  if (!fwd.ok()) {
    out->error = fwd.error().ToString();
    return;
  }
  out->load = (*fwd)->load_stats();
  std::vector<std::vector<float>> logits;
  const auto start = std::chrono::steady_clock::now();
  for (int32_t p = 0; p < n; ++p) {
    auto l = (*fwd)->Forward(fed[p], p);
    if (!l.ok()) {
      out->error = l.error().ToString();
      return;
    }
    logits.push_back(**l);
  }
  out->pass.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out->pass.tokens_per_second = out->pass.seconds > 0 ? n / out->pass.seconds : 0;
  const int32_t prompt_len = static_cast<int32_t>(cpu.prompt_ids.size());
  for (int32_t p = 0; p < n; ++p) {
    out->pass.next_ids.push_back(p + 1 < prompt_len ? cpu.prompt_ids[p + 1] : Argmax(logits[p]));
    for (float v : logits[p]) {
      out->pass.nan_count += std::isnan(v);
      out->pass.inf_count += std::isinf(v);
    }
  }
  if (model.tokenizer) out->pass.text = model.tokenizer->DecodeAll(out->pass.next_ids);
  out->comparison = CompareLogits(cpu_logits, logits, tolerance);
  out->passed = out->comparison.passed;
}

}  // namespace

Result<DeviceCheckReport> RunDevicePasses(const LlamaModel& model, const SmokePass& cpu,
                                          const std::string& devices,
                                          const std::vector<std::vector<float>>* cpu_logits) {
  DeviceCheckReport report;
  const DType dtype = DominantWeightDType(model);
  report.dtype = std::string(Name(dtype));
  auto listed = ListCudaDevices();
  report.cuda_built = CudaBuilt();
  if (!listed.ok()) {  // nothing to select from: the CPU pass is the whole result
    report.no_device = listed.error().message();
    return report;
  }
  WG_ASSIGN_OR_RETURN(std::vector<int> selected,
                      ParseDeviceList(devices, static_cast<int>(listed->size())));

  const std::vector<int32_t> fed = FedTokens(cpu);
  std::vector<std::vector<float>> recomputed;
  if (!cpu_logits || cpu_logits->size() != fed.size()) {
    CpuReference ref(model, std::max<int32_t>(static_cast<int32_t>(fed.size()), 1));
    for (size_t p = 0; p < fed.size(); ++p) {
      WG_ASSIGN_OR_RETURN(const std::vector<float>* l,
                          ref.Forward(fed[p], static_cast<int32_t>(p)));
      recomputed.push_back(*l);
    }
    cpu_logits = &recomputed;
  }
  for (int index : selected) {
    DevicePass dp;
    dp.device = (*listed)[index];
    RunOneDevice(model, cpu, fed, *cpu_logits, LogitTolerance(dtype), &dp);
    report.passes.push_back(std::move(dp));
  }
  return report;
}

}  // namespace wg
