#!/usr/bin/env bash
# CUDA twin figures for BENCHMARKS.md: host -> device load bandwidth of the staged upload
# (pinned buffers, two streams) against a plain cudaMemcpy of the same bytes (issue
# target: >= 0.8x), load time, and tokens per second of the forward pass, per device.
#
#   bench/gpu_bench.sh [MODEL...]        (WG_BINARY, WG_BENCH_DIR, WG_PYTHON override)
#
# Default models: stories260K (llama2.c, F32) and a synthetic Llama-shaped Hugging Face
# folder of about 2.1 GB in BF16 (6 layers, hidden 4096; bench/convert_throughput.py's
# generator) plus its Q8_0 GGUF, so that bandwidth is measured on gigabytes, not on one
# megabyte. Without a visible GPU it prints why and exits 0 (nothing to measure).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${WG_BINARY:-$root/build/bin/weightgate}
py=${WG_PYTHON:-/work/main/build/venv/bin/python}
[ -x "$py" ] || py=python3
[ -x "$bin" ] || { echo "build weightgate first: $bin" >&2; exit 2; }

probe=$("$bin" -q gpu-check "$root/../shared/testdata/models/stories260K/stories260K.bin" \
        --tokens 1 --json || true)
if ! grep -q '"result": "passed"' <<<"$probe"; then
  echo "gpu_bench: skipped: $(grep -o '"gpu_note": "[^"]*"' <<<"$probe" || echo 'no GPU pass')"
  exit 0
fi

models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  dir=$(mktemp -d "${WG_BENCH_DIR:-/tmp}/wg-gpu-bench.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
  "$py" -c "import sys; sys.path.insert(0, '$root/bench'); import convert_throughput as c; \
c.make_model('$dir/hf', 6, 4096, 11008, 32, 8)"
  "$bin" -q convert "$dir/hf" "$dir/q8_0.gguf" --dtype q8_0
  models=("$root/../shared/testdata/models/stories260K/stories260K.bin" "$dir/hf" "$dir/q8_0.gguf")
fi

for m in "${models[@]}"; do
  "$bin" -q gpu-check "$m" --tokens 32 --json >"${TMPDIR:-/tmp}/wg-gpu-bench.json" || true
  python3 - "$m" "${TMPDIR:-/tmp}/wg-gpu-bench.json" <<'PY'
import json, sys
path, report = sys.argv[1], json.load(open(sys.argv[2]))
cpu = report["passes"][0]
print(f"# {path} ({report.get('weights_dtype')}): cpu {cpu['tokens_per_second']:.1f} tokens/s")
for p in report["passes"][1:]:
    l, c = p["load"], p["comparison"]
    ratio = l["h2d_gbps"] / l["cuda_memcpy_gbps"] if l["cuda_memcpy_gbps"] else 0
    print(f"  {p['device']}: load {l['bytes']/1e9:.3f} GB in {l['seconds']:.3f} s; "
          f"staged {l['h2d_gbps']:.2f} GB/s vs cudaMemcpy {l['cuda_memcpy_gbps']:.2f} GB/s "
          f"(ratio {ratio:.2f}); {p['tokens_per_second']:.1f} tokens/s; "
          f"max rel logit error {c['max_rel_error']:.2e}; {'passed' if p['passed'] else 'FAILED'}")
PY
done
