#include "gpu_check_report.h"

#include <cstdio>

#include "command.h"
#include "weightgate/gpu_check/tensor_stats.h"

namespace wg::cli {
namespace {

// CUDA's version integers (13000) as people write them (13.0).
std::string CudaVersion(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

}  // namespace

nlohmann::ordered_json DeviceJson(const DevicePass& d) {
  const CudaDeviceInfo& g = d.device;
  return {{"index", g.index},
          {"name", g.name},
          {"compute_capability",
           std::to_string(g.compute_major) + "." + std::to_string(g.compute_minor)},
          {"memory_bytes", g.memory_bytes},
          {"driver_version", CudaVersion(g.driver_version)},
          {"runtime_version", CudaVersion(g.runtime_version)}};
}

nlohmann::ordered_json DevicePassJson(const DevicePass& d, const std::string& prompt) {
  const LogitComparison& c = d.comparison;
  nlohmann::ordered_json j = {{"device", d.device.name},
                              {"device_index", d.device.index},
                              {"prompt", prompt},
                              {"prompt_ids", d.pass.prompt_ids},
                              {"token_ids", d.pass.next_ids},
                              {"text", d.pass.text},
                              {"nan", d.pass.nan_count},
                              {"inf", d.pass.inf_count},
                              {"seconds", d.pass.seconds},
                              {"tokens_per_second", d.pass.tokens_per_second}};
  j["load"] = {{"bytes", d.load.bytes},
               {"seconds", d.load.load_seconds},
               {"h2d_gbps", d.load.staged_gbps},
               {"cuda_memcpy_gbps", d.load.memcpy_gbps}};
  j["comparison"] = {{"reference", "cpu"},
                     {"positions", c.positions},
                     {"top1_agree", c.top1_agree},
                     {"top1_near_ties", c.top1_near_ties},
                     {"max_abs_error", c.max_abs_error},
                     {"max_rel_error", c.max_rel_error},
                     {"tolerance", c.tolerance}};
  if (!d.error.empty()) j["error"] = d.error;
  if (!c.why.empty()) j["failure"] = c.why;
  j["passed"] = d.passed;
  return j;
}

void PrintDevicePass(const DevicePass& d) {
  const CudaDeviceInfo& g = d.device;
  std::printf("gpu %d: %s, sm_%d%d, %.1f GiB, driver %s, runtime %s\n", g.index, g.name.c_str(),
              g.compute_major, g.compute_minor, g.memory_bytes / double(1ull << 30),
              CudaVersion(g.driver_version).c_str(), CudaVersion(g.runtime_version).c_str());
  if (!d.error.empty()) {
    std::printf("  FAILED: %s\n", d.error.c_str());
    return;
  }
  const LogitComparison& c = d.comparison;
  std::printf("  load: %.1f MB in %.3f s; host->device %.2f GB/s (plain cudaMemcpy %.2f GB/s)\n",
              d.load.bytes / 1e6, d.load.load_seconds, d.load.staged_gbps, d.load.memcpy_gbps);
  std::printf(
      "  %d positions, %.1f tokens/s; max logit error %.3g abs, %.3g rel (tolerance %.3g); "
      "top-1 %d/%d (+%d near ties); NaN %llu, Inf %llu\n",
      c.positions, d.pass.tokens_per_second, c.max_abs_error, c.max_rel_error, c.tolerance,
      c.top1_agree, c.positions, c.top1_near_ties, static_cast<unsigned long long>(c.nan),
      static_cast<unsigned long long>(c.inf));
  std::printf("  text: %s\n", d.pass.text.c_str());
  std::printf("  %s%s\n", d.passed ? "passed" : "FAILED: ", d.passed ? "" : c.why.c_str());
}

namespace {

nlohmann::ordered_json StatsJson(const TensorStats& s) {
  return {{"finite", s.finite}, {"nan", s.nan}, {"inf", s.inf}, {"sum", s.sum},
          {"sum_sq", s.sum_sq}, {"min", s.min}, {"max", s.max}};
}

}  // namespace

int RunGpuTensorPass(const std::string& path, const std::string& devices, bool json, bool quiet) {
  auto catalog = OpenCatalog(path);
  if (!catalog.ok()) return ReportError(catalog.error());
  const auto& tensors = catalog->tensors;

  // Host statistics: the twin every device is compared with, and the census on its own.
  std::vector<std::optional<TensorStats>> host(tensors.size());
  uint64_t nan = 0, inf = 0, skipped = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto s = HostTensorStats(tensors[i]);
    if (!s.ok()) {
      if (s.error().code() != ErrorCode::kUnsupported) return ReportError(s.error());
      ++skipped;  // a dtype with no arithmetic (F8) or a strided view
      continue;
    }
    nan += s->nan;
    inf += s->inf;
    host[i] = *s;
  }
  bool passed = nan == 0 && inf == 0;

  std::string note;
  std::vector<CudaDeviceInfo> gpus;
  auto listed = ListCudaDevices();
  if (listed.ok()) {
    auto selected = ParseDeviceList(devices, static_cast<int>(listed->size()));
    if (!selected.ok()) return ReportError(selected.error());
    for (int i : *selected) gpus.push_back((*listed)[i]);
  } else {
    note = listed.error().message();
  }
  nlohmann::ordered_json jdevices = nlohmann::ordered_json::array();
  nlohmann::ordered_json jpasses = {{{"device", "cpu"},
                                     {"tensors", tensors.size() - skipped},
                                     {"nan", nan},
                                     {"inf", inf},
                                     {"passed", nan == 0 && inf == 0}}};
  std::vector<nlohmann::ordered_json> per_tensor_devices(tensors.size(),
                                                         nlohmann::ordered_json::array());
  for (const CudaDeviceInfo& g : gpus) {
    DevicePass info;
    info.device = g;
    jdevices.push_back(DeviceJson(info));
    nlohmann::ordered_json jp = {{"device", g.name}, {"device_index", g.index}};
    auto dev = CudaTensorStats(*catalog, g.index);
    if (!dev.ok()) {
      jp["error"] = dev.error().ToString();
      jp["passed"] = false;
      passed = false;
      if (!json)
        std::printf("gpu %d: %s: FAILED: %s\n", g.index, g.name.c_str(),
                    dev.error().ToString().c_str());
      jpasses.push_back(jp);
      continue;
    }
    uint64_t compared = 0, mismatches = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (!host[i] || !dev->stats[i]) continue;
      ++compared;
      const std::string diff = CompareTensorStats(*host[i], *dev->stats[i]);
      if (!diff.empty()) {
        ++mismatches;
        if (!json) std::printf("  %s: %s\n", tensors[i].name.c_str(), diff.c_str());
      }
      per_tensor_devices[i].push_back({{"device_index", g.index}, {"match", diff.empty()}});
      if (!diff.empty()) per_tensor_devices[i].back()["difference"] = diff;
    }
    const double gbps = dev->upload_seconds > 0 ? dev->bytes / dev->upload_seconds / 1e9 : 0;
    jp["tensors"] = compared;
    jp["mismatches"] = mismatches;
    jp["bytes"] = dev->bytes;
    jp["h2d_gbps"] = gbps;
    jp["compute_seconds"] = dev->compute_seconds;
    jp["passed"] = mismatches == 0;
    passed = passed && mismatches == 0;
    if (!json)
      std::printf("gpu %d: %s: %llu tensors, %llu mismatches, %.1f MB at %.2f GB/s\n", g.index,
                  g.name.c_str(), static_cast<unsigned long long>(compared),
                  static_cast<unsigned long long>(mismatches), dev->bytes / 1e6, gbps);
    jpasses.push_back(jp);
  }
  const int code = !passed ? kExitCheckFailed : gpus.empty() ? kExitCpuOnly : kExitOk;
  const char* result = code == kExitOk ? "passed" : code == kExitCpuOnly ? "cpu-only" : "failed";
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = path;
    j["format"] = FormatName(catalog->format);
    j["mode"] = "tensors";
    j["devices"] = jdevices;
    if (!note.empty()) j["gpu_note"] = note;
    j["passes"] = jpasses;
    j["tensors"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < tensors.size(); ++i) {
      nlohmann::ordered_json t = {{"name", tensors[i].name},
                                  {"dtype", std::string(Name(tensors[i].dtype))}};
      if (host[i]) t["host"] = StatsJson(*host[i]);
      t["devices"] = per_tensor_devices[i];
      j["tensors"].push_back(t);
    }
    j["result"] = result;
    j["exit_code"] = code;
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return code;
  }
  std::printf("tensors: %s (%s; %zu tensors, %llu without statistics)\n", path.c_str(),
              FormatName(catalog->format), tensors.size(),
              static_cast<unsigned long long>(skipped));
  std::printf("host: NaN %llu, Inf %llu\n", static_cast<unsigned long long>(nan),
              static_cast<unsigned long long>(inf));
  if (!note.empty() && !quiet) std::fprintf(stderr, "weightgate: gpu-check: %s\n", note.c_str());
  std::printf("result: %s\n", code == kExitOk        ? "passed on every selected GPU"
                              : code == kExitCpuOnly ? "host statistics only (exit 3)"
                                                     : "FAILED");
  return code;
}

}  // namespace wg::cli
