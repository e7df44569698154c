#!/usr/bin/env python3
"""End-to-end conversion benchmark: weightgate vs the gguf Python package, same run.

Builds a synthetic Llama-shaped Hugging Face folder (config.json, one BF16
model.safetensors of >= 2 GB, the stories260K SentencePiece tokenizer), then times

  weightgate convert HF_DIR out.gguf --dtype f16     (and --dtype q8_0)
  the gguf package doing the same cast: BF16 -> F16 (numpy) or -> Q8_0
  (gguf.quants.quantize), written with gguf.GGUFWriter

each in a fresh process, reporting wall time, throughput (input bytes per wall
second), CPU time, peak RSS (ru_maxrss from wait4) and peak anonymous RSS
(sampled). The input is read once before timing so both tools start from a warm
page cache. Run with the venv python: build/venv/bin/python. A 2 GB run takes a
few minutes; it is not part of ctest.
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
N_HEADS, N_KV_HEADS = 32, 8  # Llama-2-7B's query heads; grouped-query KV heads as in Llama 3


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
# The gguf package's path as convert_hf_to_gguf.py takes it: all tensor infos
# first, then each tensor read, cast and written in turn (what convert_hf_to_gguf's
# lazy tensors amount to), so memory holds one tensor at a time, as in weightgate.
# attn q/k are permuted from HF's rotary halves to GGUF's interleaved pairs.
import json, sys, numpy as np, gguf
src, out, dtype, n_head, n_kv = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
T = gguf.GGMLQuantizationType
raw = np.memmap(src, dtype=np.uint8, mode="r")
n = int.from_bytes(raw[:8].tobytes(), "little")
header = json.loads(raw[8:8 + n].tobytes())
base = 8 + n
items = [(k, v) for k, v in header.items() if k != "__metadata__"]

def target(shape):
    if len(shape) == 1:
        return T.F32
    return T.Q8_0 if dtype == "q8_0" and shape[-1] % 32 == 0 else T.F16

def permute(w, heads):
    return w.reshape(heads, 2, w.shape[0] // heads // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)

def load(name, info):
    b, e = info["data_offsets"]
    u16 = raw[base + b:base + e].view(np.uint16).reshape(info["shape"])
    f32 = (u16.astype(np.uint32) << 16).view(np.float32)
    if name.endswith("q_proj.weight"):
        f32 = permute(f32, n_head)
    elif name.endswith("k_proj.weight"):
        f32 = permute(f32, n_kv)
    return f32

w = gguf.GGUFWriter(out, "llama")
for name, info in items:
    t = target(info["shape"])
    block, size = gguf.GGML_QUANT_SIZES[t]
    w.add_tensor_info(name, info["shape"], np.dtype(np.float32), int(np.prod(info["shape"])) // block * size, raw_dtype=t)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_ti_data_to_file()
for name, info in items:
    w.write_tensor_data(gguf.quants.quantize(load(name, info), target(info["shape"])))
w.close()
'''


def anon_rss(pid):
    """Resident anonymous memory of pid in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(cmd):
    """Wall time, CPU time (user + system), peak RSS (ru_maxrss) and peak
    anonymous RSS (sampled every 20 ms). CPU time is the figure to trust on a
    shared machine, where wall time includes waiting for the other tenants.

    ru_maxrss counts the pages of a memory-mapped input the tool has touched, so
    for two tools that both mmap the model it is mostly the model's size; the
    anonymous figure is the memory the tool itself allocated."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_anon = 0
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid != 0:
            break
        peak_anon = max(peak_anon, anon_rss(p.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, peak_anon


HF_TO_GGUF = {
    "model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output",
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf):
    stem = hf.removesuffix(".weight")
    if stem.startswith("model.layers."):
        _, _, i, rest = stem.split(".", 3)
        return f"blk.{i}.{HF_TO_GGUF[rest]}.weight"
    return HF_TO_GGUF[stem] + ".weight"


def same_tensors(weightgate_out, peer_out):
    """How many of the peer's tensors weightgate wrote byte for byte (same type too):
    checks that the two tools did the same work."""
    import gguf
    wg = {t.name: t for t in gguf.GGUFReader(weightgate_out).tensors}
    equal, total = 0, 0
    for t in gguf.GGUFReader(peer_out).tensors:
        total += 1
        other = wg.get(gguf_name(t.name))
        if other is not None and other.tensor_type == t.tensor_type and \
                np.array_equal(np.asarray(other.data).view(np.uint8), np.asarray(t.data).view(np.uint8)):
            equal += 1
    return equal, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/bin/weightgate"))
    ap.add_argument("--workdir", default=None, help="where the synthetic model goes (default: a temp dir)")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=11008)
    ap.add_argument("--repeat", type=int, default=2, help="runs per tool; the best is reported")
    ap.add_argument("--only", choices=("weightgate", "gguf-py"), help="time one tool only")
    ap.add_argument("--compare", nargs=2, metavar=("WEIGHTGATE_GGUF", "PEER_GGUF"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.compare:
        print(*same_tensors(*args.compare))
        return

    work = args.workdir or tempfile.mkdtemp(prefix="wg-bench-")
    model = os.path.join(work, "hf")
    st = os.path.join(model, "model.safetensors")
    if not os.path.exists(st):
        print(f"generating synthetic model in {model} ...", file=sys.stderr)
        make_model(model, args.layers, args.dim, args.hidden, N_HEADS, N_KV_HEADS)
    size = os.path.getsize(st)
    with open(st, "rb") as f:  # warm the page cache for both tools alike
        while f.read(64 << 20):
            pass
    rows, agreement = [], {}
    for dtype in ("f16", "q8_0"):
        outs = {}
        tools = []
        if args.only != "gguf-py":
            out = os.path.join(work, f"out-{dtype}-weightgate.gguf")
            tools.append(("weightgate", out, [args.binary, "--quiet", "convert", model, out, "--dtype", dtype]))
        if args.only != "weightgate":
            out = os.path.join(work, f"out-{dtype}-gguf-py.gguf")
            tools.append(("gguf-py", out, [sys.executable, "-c", PEER, st, out, dtype, str(N_HEADS), str(N_KV_HEADS)]))
        for tool, out, cmd in tools:
            best = None
            for _ in range(args.repeat):
                if os.path.exists(out):
                    os.remove(out)
                result = run(cmd)
                if best is None or result[0] < best[0]:
                    best = result
            rows.append((dtype, tool, size, *best))
            outs[tool] = out
        if len(outs) == 2:
            # In a child: mapping two multi-GB outputs here would raise this process's
            # RSS, which every later fork inherits into its ru_maxrss before exec.
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--compare",
                                outs["weightgate"], outs["gguf-py"]], capture_output=True, text=True, check=True)
            agreement[dtype] = tuple(int(x) for x in p.stdout.split())
        for out in outs.values():
            os.remove(out)
    print(f"input: {size / 1e9:.2f} GB BF16 safetensors, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print("| conversion | tool | wall s | GB/s (wall) | CPU s | peak RSS (MB) | peak anonymous RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    by = {}
    for dtype, tool, size, wall, cpu, rss, anon in rows:
        by[(dtype, tool)] = wall
        print(f"| BF16 -> {dtype.upper()} | {tool} | {wall:.2f} | {size / wall / 1e9:.2f} | {cpu:.2f} "
              f"| {rss / 1e6:.0f} | {anon / 1e6:.0f} |")
    if args.only is None:
        for dtype in ("f16", "q8_0"):
            print(f"speed-up BF16 -> {dtype.upper()}: {by[(dtype, 'gguf-py')] / by[(dtype, 'weightgate')]:.1f}x; "
                  f"tensors byte-identical between the two outputs: {agreement[dtype][0]}/{agreement[dtype][1]}")
    if not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
