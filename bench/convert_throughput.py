#!/usr/bin/env python3
"""End-to-end conversion benchmark: weightgate vs the gguf Python package, same run.

Builds a synthetic Llama-shaped Hugging Face folder (config.json, one BF16
model.safetensors of >= 2 GB, the stories260K SentencePiece tokenizer), then times

  weightgate convert HF_DIR out.gguf --dtype f16     (and --dtype q8_0)
  the gguf package doing the same cast: BF16 -> F16 (numpy) or -> Q8_0
  (gguf.quants.quantize), written with gguf.GGUFWriter

each in a fresh process, reporting wall time, throughput (input bytes / second) and
peak RSS (ru_maxrss from wait4). The input is read once before timing so both tools
start from a warm page cache. Run with the venv python: build/venv/bin/python.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_model(folder, layers, dim, hidden, n_heads, n_kv_heads, vocab=512):
    """Writes config.json + model.safetensors (BF16, random) + tokenizer.model."""
    os.makedirs(folder, exist_ok=True)
    hd = dim // n_heads
    shapes = [("model.embed_tokens.weight", (vocab, dim))]
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (dim,)),
            (p + "self_attn.q_proj.weight", (n_heads * hd, dim)),
            (p + "self_attn.k_proj.weight", (n_kv_heads * hd, dim)),
            (p + "self_attn.v_proj.weight", (n_kv_heads * hd, dim)),
            (p + "self_attn.o_proj.weight", (dim, n_heads * hd)),
            (p + "post_attention_layernorm.weight", (dim,)),
            (p + "mlp.gate_proj.weight", (hidden, dim)),
            (p + "mlp.up_proj.weight", (hidden, dim)),
            (p + "mlp.down_proj.weight", (dim, hidden)),
        ]
    shapes += [("model.norm.weight", (dim,)), ("lm_head.weight", (vocab, dim))]
    header, off = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(len(hjson).to_bytes(8, "little"))
        f.write(hjson)
        for name, shape in shapes:
            n = int(np.prod(shape))
            # BF16 of N(0, 0.02): the upper halves of f32 samples, written in pieces.
            for start in range(0, n, 1 << 24):
                k = min(1 << 24, n - start)
                x = (rng.standard_normal(k, dtype=np.float32) * 0.02).view(np.uint32)
                f.write((x >> 16).astype(np.uint16).tobytes())
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": dim, "intermediate_size": hidden, "num_hidden_layers": layers,
        "num_attention_heads": n_heads, "num_key_value_heads": n_kv_heads,
        "vocab_size": vocab, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "bos_token_id": 1, "eos_token_id": 2,
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copy(os.path.join(ROOT, "examples/models/stories260K/tok512.model"),
                os.path.join(folder, "tokenizer.model"))
    return os.path.getsize(os.path.join(folder, "model.safetensors"))


PEER = r'''
import json, sys, numpy as np, gguf
src, out, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
raw = np.memmap(src, dtype=np.uint8, mode="r")
n = int.from_bytes(raw[:8].tobytes(), "little")
header = json.loads(raw[8:8 + n].tobytes())
base = 8 + n
w = gguf.GGUFWriter(out, "llama")
for name, info in header.items():
    if name == "__metadata__":
        continue
    b, e = info["data_offsets"]
    u16 = raw[base + b:base + e].view(np.uint16).reshape(info["shape"])
    f32 = (u16.astype(np.uint32) << 16).view(np.float32)
    if dtype == "q8_0" and f32.ndim == 2 and f32.shape[-1] % 32 == 0:
        w.add_tensor(name, gguf.quants.quantize(f32, gguf.GGMLQuantizationType.Q8_0),
                     raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    elif f32.ndim == 1:
        w.add_tensor(name, f32)
    else:
        w.add_tensor(name, f32.astype(np.float16))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
'''


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/bin/weightgate"))
    ap.add_argument("--workdir", default=None, help="where the synthetic model goes (default: a temp dir)")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=11008)
    ap.add_argument("--repeat", type=int, default=2, help="runs per tool; the best is reported")
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="wg-bench-")
    model = os.path.join(work, "hf")
    st = os.path.join(model, "model.safetensors")
    if not os.path.exists(st):
        print(f"generating synthetic model in {model} ...", file=sys.stderr)
        make_model(model, args.layers, args.dim, args.hidden, 32, 8)
    size = os.path.getsize(st)
    with open(st, "rb") as f:  # warm the page cache for both tools alike
        while f.read(64 << 20):
            pass
    rows = []
    for dtype in ("f16", "q8_0"):
        out = os.path.join(work, f"out-{dtype}.gguf")
        tools = [("weightgate", [args.binary, "convert", model, out, "--dtype", dtype, "--quiet"])]
        if not args.skip_peer:
            tools.append(("gguf-py " + __import__("gguf").__name__,
                          [sys.executable, "-c", PEER, st, out, dtype]))
        for tool, cmd in tools:
            best = None
            for _ in range(args.repeat):
                if os.path.exists(out):
                    os.remove(out)
                wall, rss = run(cmd)
                if best is None or wall < best[0]:
                    best = (wall, rss)
            rows.append((dtype, tool.split()[0], size, best[0], best[1]))
            os.remove(out)
    print(f"input: {size / 1e9:.2f} GB BF16 safetensors, {os.cpu_count()} CPUs")
    print("| conversion | tool | seconds | GB/s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    by = {}
    for dtype, tool, size, wall, rss in rows:
        by[(dtype, tool)] = wall
        print(f"| BF16 -> {dtype.upper()} | {tool} | {wall:.2f} | {size / wall / 1e9:.2f} | {rss / 1e6:.0f} |")
    if not args.skip_peer:
        for dtype in ("f16", "q8_0"):
            print(f"speed-up BF16 -> {dtype.upper()}: {by[(dtype, 'gguf-py')] / by[(dtype, 'weightgate')]:.1f}x")
    if not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
