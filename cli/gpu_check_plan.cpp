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
  auto gib = [](uint64_t b) { return b / double(1ull << 30); };
  std::printf("memory plan for %s: context %lld, batch %lld, F16 KV cache\n", path.c_str(),
              static_cast<long long>(o.context), static_cast<long long>(o.batch));
  std::printf("%-16s %10s %10s %10s %10s %10s  %-4s %12s\n", "target", "memory", "weights",
              "kv cache", "workspace", "total", "fits", "max context");
  for (const auto& r : rows)
    std::printf("%-16s %7.2f GiB %6.3f GiB %6.3f GiB %6.3f GiB %6.3f GiB  %-4s %12lld\n",
                r.target.name.c_str(), gib(r.target.memory_bytes), gib(r.weights), gib(r.kv_cache),
                gib(r.workspace), gib(r.total), r.fits ? "yes" : "NO",
                static_cast<long long>(r.max_context));
  std::printf("result: %s\n",
              all ? "fits on every target (exit 0)" : "does not fit on every target (exit 1)");
  return code;
}

}  // namespace wg::cli
