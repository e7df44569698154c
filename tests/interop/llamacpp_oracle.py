#!/usr/bin/env python3
"""llama.cpp (through the xllamacpp wheel) as an independent oracle for GGUF files.

The model is loaded and run by llama.cpp's own loader, tokenizer and CPU kernels,
and quantized by llama.cpp's own ggml_quantize_chunk, not by anything in this
repository. Run it with build/venv-llamacpp/bin/python (scripts/setup-llamacpp).

  llamacpp_oracle.py run MODEL.gguf < requests.json > results.json
      requests.json is a list of {"prompt": [token ids] | "text", "n_predict": N,
      "n_probs": K}. A list of ids is fed as is (no BOS added); a string goes
      through llama.cpp's tokenizer, which adds BOS. Decoding is greedy
      (temperature 0) and ignores EOS. Each result is {"tokens": [generated ids],
      "text": str, "prompt_tokens": int} and, when K > 0, "logprobs": for each
      generated position, a K-entry list (K = n_vocab for the full distribution)
      of llama.cpp's log-softmax of the raw logits, indexed by token id (null
      where llama.cpp reported nothing). Log-softmax differs from the logits
      only by a per-position constant.

  llamacpp_oracle.py twin SOURCE.gguf CANDIDATE.gguf OUT.gguf
      Writes OUT.gguf: SOURCE's metadata, and each of SOURCE's F32 tensors cast
      by llama.cpp (ggml_quantize_chunk) to the type CANDIDATE stores it in.
      Prints {"tensors": {name: {"type": str, "equal": bool}}}: whether
      CANDIDATE's bytes are exactly llama.cpp's for that tensor.

  llamacpp_oracle.py quantize SOURCE.gguf OUT.gguf TYPE
      SOURCE's F32 matrices cast by llama.cpp to TYPE (F16, Q8_0, Q4_0, ...)
      where the row length allows it; vectors stay F32.

One thread, CPU only, F32 KV cache: results do not depend on the machine.
"""
import ctypes
import glob
import json
import os
import sys

import numpy as np

import gguf
import xllamacpp


def load(path, n_ctx):
    p = xllamacpp.CommonParams()
    p.model.path = path
    p.n_ctx = n_ctx
    p.n_parallel = 1
    p.n_gpu_layers = 0
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    p.warmup = False
    # F32 KV cache and no flash attention: llama.cpp's default F16 cache rounds
    # K and V to half precision, which alone moves the logits by ~1e-2.
    p.cache_type_k = xllamacpp.ggml_type.GGML_TYPE_F32
    p.cache_type_v = xllamacpp.ggml_type.GGML_TYPE_F32
    p.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
    return xllamacpp.Server(p)


def complete(server, req):
    n_probs = int(req.get("n_probs", 0))
    r = server.handle_completions({
        "prompt": req["prompt"],
        "n_predict": int(req["n_predict"]),
        "temperature": 0.0,
        "top_k": 1,
        "ignore_eos": True,
        "cache_prompt": False,
        # At least 1 so that every generated id is reported.
        "n_probs": max(n_probs, 1),
    })
    if "error" in r or "choices" not in r:
        raise SystemExit(f"llama.cpp refused the request: {json.dumps(r)[:2000]}")
    choice = r["choices"][0]
    content = choice["logprobs"]["content"]
    out = {
        "tokens": [c["id"] for c in content],
        "text": choice["text"],
        "prompt_tokens": r["usage"]["prompt_tokens"],
    }
    if n_probs > 0:
        rows = []
        for c in content:
            row = [None] * n_probs
            for t in c["top_logprobs"]:
                if t["id"] < n_probs:
                    row[t["id"]] = t["logprob"]
            rows.append(row)
        out["logprobs"] = rows
    return out


def cmd_run(model):
    requests = json.load(sys.stdin)
    n_ctx = max(len(r["prompt"]) + int(r["n_predict"]) for r in requests) + 16
    server = load(model, max(n_ctx, 64))
    json.dump([complete(server, r) for r in requests], sys.stdout)
    sys.stdout.write("\n")


def ggml():
    """The llama.cpp library inside the wheel, for its C quantization entry point."""
    so = glob.glob(os.path.join(os.path.dirname(xllamacpp.__file__), "xllamacpp*.so"))[0]
    lib = ctypes.CDLL(so)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_blck_size.restype = ctypes.c_int64
    lib.ggml_blck_size.argtypes = [ctypes.c_int]
    return lib


def llama_cast(lib, f32, qtype):
    """f32 (numpy, rows x n_per_row) in ggml type qtype, as llama.cpp writes it."""
    if qtype == gguf.GGMLQuantizationType.F32:
        return np.ascontiguousarray(f32, dtype=np.float32).view(np.uint8).reshape(-1)
    src = np.ascontiguousarray(f32, dtype=np.float32)
    n_per_row = src.shape[-1]
    nrows = src.size // n_per_row
    dst = np.zeros(nrows * lib.ggml_row_size(int(qtype), n_per_row), dtype=np.uint8)
    written = lib.ggml_quantize_chunk(int(qtype), src.ctypes.data, dst.ctypes.data, 0, nrows, n_per_row, None)
    if written != dst.size:
        raise SystemExit(f"ggml_quantize_chunk wrote {written} bytes, expected {dst.size}")
    return dst


def write_like(source, out, type_of):
    """OUT: source's metadata; its tensors cast by llama.cpp to type_of(tensor)."""
    lib = ggml()
    reader = gguf.GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(out, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.alignment"):
            continue
        sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(name, field.contents(), field.types[0], sub)
    for t in reader.tensors:
        if t.tensor_type != gguf.GGMLQuantizationType.F32:
            raise SystemExit(f"{source}: tensor {t.name} is {t.tensor_type.name}, the twin needs F32 input")
        f32 = np.asarray(t.data, dtype=np.float32).reshape(-1, int(t.shape[0]))
        qtype = type_of(t)
        logical = [int(d) for d in reversed(t.shape)]  # numpy order, rows last
        data = llama_cast(lib, f32, qtype).reshape(logical[:-1] + [-1])  # gguf-py wants byte rows
        w.add_tensor(t.name, data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def cmd_twin(source, candidate, out):
    cand = {t.name: t for t in gguf.GGUFReader(candidate).tensors}
    src_names = {t.name for t in gguf.GGUFReader(source).tensors}
    if set(cand) != src_names:
        raise SystemExit(f"tensor names differ: only in source {sorted(src_names - set(cand))}, "
                         f"only in candidate {sorted(set(cand) - src_names)}")
    write_like(source, out, lambda t: cand[t.name].tensor_type)
    twin = {t.name: t for t in gguf.GGUFReader(out).tensors}
    report = {}
    for name, t in cand.items():
        report[name] = {"type": t.tensor_type.name,
                        "equal": bytes(np.asarray(t.data).view(np.uint8)) == bytes(np.asarray(twin[name].data).view(np.uint8))}
    json.dump({"tensors": report}, sys.stdout)
    sys.stdout.write("\n")


def cmd_quantize(source, out, type_name):
    qtype = gguf.GGMLQuantizationType[type_name.upper()]
    lib = ggml()

    def type_of(t):
        if len(t.shape) < 2 or int(t.shape[0]) % lib.ggml_blck_size(int(qtype)) != 0:
            return gguf.GGMLQuantizationType.F32
        return qtype

    write_like(source, out, type_of)


def main():
    commands = {"run": (cmd_run, 1), "twin": (cmd_twin, 3), "quantize": (cmd_quantize, 3)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) - 2 != commands[sys.argv[1]][1]:
        raise SystemExit(__doc__)
    fn, _ = commands[sys.argv[1]]
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
