#include "gpu_check_plan.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"

namespace wg::cli {

int PrintMemoryPlan(const std::string& path, const LlamaModel& model, const PlanArgs& args,
                    bool json) {
  auto targets = ParseGpuTargets(args.targets);
  if (!targets.ok()) return ReportError(targets.error());
  if (args.context < 0 || args.batch < 1)
    return ReportError(Error::Usage("--context must be >= 0 and --batch >= 1"));
  PlanOptions o;
  o.context = args.context > 0 ? args.context : model.config.seq_len;
  o.batch = args.batch;
  const PlanShape shape = PlanShape::Of(model);
  const std::vector<PlanRow> rows = PlanMemory(shape, o, *targets);
  bool all = true;
  for (const auto& r : rows) all = all && r.fits;
  const int code = all ? kExitOk : kExitCheckFailed;
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = path;
    j["context"] = o.context;
    j["batch"] = o.batch;
    j["kv_bytes_per_element"] = o.kv_bytes;
    j["model"] = {{"layers", shape.layers},     {"heads", shape.heads},
                  {"kv_heads", shape.kv_heads}, {"head_dim", shape.head_dim},
                  {"dim", shape.dim},           {"hidden_dim", shape.hidden_dim},
                  {"vocab", shape.vocab},       {"weights_bytes", shape.weights_bytes}};
    j["targets"] = nlohmann::ordered_json::array();
    for (const auto& r : rows)
      j["targets"].push_back({{"name", r.target.name},
                              {"memory_bytes", r.target.memory_bytes},
                              {"weights_bytes", r.weights},
                              {"kv_cache_bytes", r.kv_cache},
                              {"workspace_bytes", r.workspace},
                              {"total_bytes", r.total},
                              {"fits", r.fits},
                              {"max_context", r.max_context}});
    j["fits_all"] = all;
    j["exit_code"] = code;
    std::printf("%s\n", j.dump(2).c_str());
    return code;
  }
  auto size = [](uint64_t b) {  // binary units, three significant-ish digits
    const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(b);
    int i = 0;
    while (v >= 1024 && i < 4) {
      v /= 1024;
      ++i;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.2f %s", v, unit[i]);
    return std::string(buf);
  };
  std::printf("memory plan for %s: context %lld, batch %lld, F16 KV cache\n", path.c_str(),
              static_cast<long long>(o.context), static_cast<long long>(o.batch));
  std::printf("%-16s %11s %11s %11s %11s %11s  %-4s %12s\n", "target", "memory", "weights",
              "kv cache", "workspace", "total", "fits", "max context");
  for (const auto& r : rows)
    std::printf("%-16s %11s %11s %11s %11s %11s  %-4s %12lld\n", r.target.name.c_str(),
                size(r.target.memory_bytes).c_str(), size(r.weights).c_str(),
                size(r.kv_cache).c_str(), size(r.workspace).c_str(), size(r.total).c_str(),
                r.fits ? "yes" : "NO", static_cast<long long>(r.max_context));
  std::printf("result: %s\n",
              all ? "fits on every target (exit 0)" : "does not fit on every target (exit 1)");
  return code;
}

}  // namespace wg::cli
