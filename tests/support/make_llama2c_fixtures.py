"""Writes the llama2.c fixtures for tests/llama2c_test.cpp into OUTDIR.

From the real stories260K.bin (legacy format) this writes the other layouts the way
llama2.c's export.py writes them (legacy_export, version1_export, version2_export with
quantize_q80, re-expressed in numpy with the same float32 arithmetic), and dumps every
tensor of stories260K.gguf as gguf-py (llama.cpp's own reader) sees it, so that the C++
reader is checked against independent code. OUTDIR/manifest.json describes it all.

usage: python make_llama2c_fixtures.py STORIES260K.BIN STORIES260K.GGUF OUTDIR
(exit status 77: this python lacks numpy or gguf)
"""

import json
import os
import struct
import sys

try:
    import numpy as np
    from gguf import GGUFReader
except ImportError:
    sys.exit(77)

SRC, GGUF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
MAGIC = 0x616B3432
manifest = {"fixtures": {}, "gguf": []}


def path(name):
    return os.path.join(OUT, name)


# --- read the legacy checkpoint (LLAMA2C_FORMAT.md §1) ---
raw = open(SRC, "rb").read()
dim, hidden, L, H, KV, vocab, seq = struct.unpack_from("<7i", raw, 0)
assert vocab > 0, "stories260K shares its classifier"
head = dim // H
kv_dim = head * KV
floats = np.frombuffer(raw, dtype="<f4", offset=28)
pos = 0


def take(*shape):
    global pos
    n = int(np.prod(shape))
    a = floats[pos:pos + n].reshape(shape)
    pos += n
    return a


emb = take(vocab, dim)
att_norm = take(L, dim)
wq = take(L, dim, dim)
wk = take(L, kv_dim, dim)
wv = take(L, kv_dim, dim)
wo = take(L, dim, dim)
ffn_norm = take(L, dim)
w1 = take(L, hidden, dim)
w2 = take(L, dim, hidden)
w3 = take(L, hidden, dim)
final_norm = take(dim)
freq_real = take(seq, head // 2)
freq_imag = take(seq, head // 2)
assert pos == floats.size
# A classifier that differs from the embedding, for the unshared layouts.
cls = (emb[::-1] * np.float32(0.5)).astype("<f4")


def f32(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def legacy(name, shared=True, tables=True):
    with open(path(name), "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, L, H, KV, vocab if shared else -vocab, seq))
        for a in (emb, att_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, final_norm):
            f.write(f32(a))
        if tables:
            f.write(f32(freq_real))
            f.write(f32(freq_imag))
        if not shared:
            f.write(f32(cls))
    manifest["fixtures"][name] = {"version": 0, "shared": shared, "rope_tables": tables}


def header(f, version, shared, group_size=None):
    f.write(struct.pack("<I", MAGIC))
    f.write(struct.pack("<i", version))
    f.write(struct.pack("<7i", dim, hidden, L, H, KV, vocab, seq))
    f.write(struct.pack("<B", int(shared)))
    if group_size is not None:
        f.write(struct.pack("<i", group_size))
    f.write(b"\0" * (256 - f.tell()))


def matrices(shared):
    ws = [emb]
    for stack in (wq, wk, wv, wo, w1, w2, w3):
        ws.extend(stack[l] for l in range(L))
    if not shared:
        ws.append(cls)
    return ws


def norms(f):
    for l in range(L):
        f.write(f32(att_norm[l]))
    for l in range(L):
        f.write(f32(ffn_norm[l]))
    f.write(f32(final_norm))


def version1(name, shared=True):
    with open(path(name), "wb") as f:
        header(f, 1, shared)
        norms(f)
        for w in matrices(shared):
            f.write(f32(w))
    manifest["fixtures"][name] = {"version": 1, "shared": shared}


def quantize_q80(w, group_size):
    # export.py: scale = max|w| / 127 per group; int8 = round(w / scale); value = int8 * scale
    w = np.asarray(w, dtype=np.float32).reshape(-1, group_size)
    scale = (np.abs(w).max(axis=1) / np.float32(127.0)).astype(np.float32)
    q = np.round(w / scale[:, None]).astype(np.int8)
    return q, scale


def version2(name, shared=True, group_size=64):
    while dim % group_size != 0:
        group_size //= 2
    dequant = []
    with open(path(name), "wb") as f:
        header(f, 2, shared, group_size)
        norms(f)
        for w in matrices(shared):
            q, s = quantize_q80(w, group_size)
            f.write(q.tobytes())
            f.write(s.astype("<f4").tobytes())
            dequant.append((q.astype(np.float32) * s[:, None]).astype("<f4").tobytes())
    with open(path(name + ".dequant"), "wb") as f:
        f.write(b"".join(dequant))
    manifest["fixtures"][name] = {"version": 2, "shared": shared, "group_size": group_size,
                                  "dequant": name + ".dequant"}


legacy("legacy_unshared.bin", shared=False)
legacy("legacy_no_tables.bin", tables=False)
version1("v1.bin")
version1("v1_unshared.bin", shared=False)
version2("v2.bin")
version2("v2_unshared.bin", shared=False, group_size=32)
with open(path("classifier.f32"), "wb") as f:
    f.write(f32(cls))

# --- every tensor of the GGUF, as llama.cpp's gguf-py reads it ---
reader = GGUFReader(GGUF)
for i, t in enumerate(reader.tensors):
    file = f"gguf.{i}.bin"
    with open(path(file), "wb") as f:
        f.write(np.ascontiguousarray(t.data).tobytes())
    manifest["gguf"].append({"name": t.name, "type": int(t.tensor_type),
                             "shape": [int(d) for d in reversed(t.shape.tolist())], "file": file})

with open(path("manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
