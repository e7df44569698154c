#include "weightgate/gpu_check/memory_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace wg {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const std::vector<GpuTarget>& KnownGpus() {
  static const std::vector<GpuTarget> table = {
      {"B200-180GB", 180 * kGiB}, {"H200-141GB", 141 * kGiB},  {"H100-94GB", 94 * kGiB},
      {"H100-80GB", 80 * kGiB},   {"A100-80GB", 80 * kGiB},    {"A100-40GB", 40 * kGiB},
      {"L40S-48GB", 48 * kGiB},   {"RTX5090-32GB", 32 * kGiB}, {"RTX4090-24GB", 24 * kGiB},
      {"A10-24GB", 24 * kGiB},    {"L4-24GB", 24 * kGiB},
  };
  return table;
}

Result<std::vector<GpuTarget>> ParseGpuTargets(const std::string& list) {
  std::vector<GpuTarget> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (Upper(item) == "ALL") {
      out.insert(out.end(), KnownGpus().begin(), KnownGpus().end());
      continue;
    }
    if (size_t colon = item.find(':'); colon != std::string::npos) {
      const std::string name = item.substr(0, colon), size = item.substr(colon + 1);
      char* end = nullptr;
      const double gib = std::strtod(size.c_str(), &end);
      if (name.empty() || size.empty() || *end != '\0' || !(gib > 0) || gib > 1e6)
        return Error::Usage("custom GPU target is not NAME:GiB")
            .Field("--target")
            .Expected("e.g. MyCard:12 or MyCard:15.5")
            .Found(item);
      out.push_back({name, static_cast<uint64_t>(std::llround(gib * kGiB))});
      continue;
    }
    auto it = std::find_if(KnownGpus().begin(), KnownGpus().end(),
                           [&](const GpuTarget& g) { return Upper(g.name) == Upper(item); });
    if (it == KnownGpus().end()) {
      std::string known;
      for (const auto& g : KnownGpus()) known += (known.empty() ? "" : ", ") + g.name;
      return Error::Usage("unknown GPU target (give NAME:GiB for another one)")
          .Field("--target")
          .Expected(known)
          .Found(item);
    }
    out.push_back(*it);
  }
  if (out.empty()) return Error::Usage("no GPU target given").Field("--target");
  return out;
}

PlanShape PlanShape::Of(const LlamaModel& model) {
  const LlamaConfig& c = model.config;
  PlanShape s;
  s.layers = c.n_layers;
  s.heads = c.n_heads;
  s.kv_heads = c.n_kv_heads;
  s.head_dim = c.head_size();
  s.dim = c.dim;
  s.hidden_dim = c.hidden_dim;
  s.vocab = c.vocab_size;
  s.weights_bytes = model.catalog.TotalBytes();
  return s;
}

uint64_t KvCacheBytes(const PlanShape& s, const PlanOptions& o) {
  return 2ull * s.layers * s.kv_heads * s.head_dim * o.context * o.batch * o.kv_bytes;
}

uint64_t WorkspaceBytes(const PlanShape& s, const PlanOptions& o) {
  return kWorkspaceReserve +
         4ull * o.batch * (s.vocab + 3 * s.dim + 2 * s.hidden_dim + s.heads * o.context);
}

std::vector<PlanRow> PlanMemory(const PlanShape& shape, const PlanOptions& options,
                                const std::vector<GpuTarget>& targets) {
  // Bytes that grow with each context position, and those that do not.
  PlanOptions one = options, zero = options;
  one.context = 1;
  zero.context = 0;
  const uint64_t per_pos =
      KvCacheBytes(shape, one) + WorkspaceBytes(shape, one) - WorkspaceBytes(shape, zero);
  const uint64_t fixed = shape.weights_bytes + WorkspaceBytes(shape, zero);
  std::vector<PlanRow> rows;
  for (const auto& t : targets) {
    PlanRow r;
    r.target = t;
    r.weights = shape.weights_bytes;
    r.kv_cache = KvCacheBytes(shape, options);
    r.workspace = WorkspaceBytes(shape, options);
    r.total = r.weights + r.kv_cache + r.workspace;
    r.fits = r.total <= t.memory_bytes;
    r.max_context = t.memory_bytes > fixed && per_pos > 0
                        ? static_cast<int64_t>((t.memory_bytes - fixed) / per_pos)
                        : 0;
    rows.push_back(r);
  }
  return rows;
}

}  // namespace wg
