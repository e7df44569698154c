#!/usr/bin/python3
"""Writes the small generated fuzz seeds into tests/fuzz/seeds/<target>/.

scripts/fuzz adds the real files from ../shared/testdata (cut to the fuzzers' max_len) to
these. Every seed here is tiny and valid, so a fuzzer starts from inputs that reach deep
into each parser. Run with a Python that has torch and numpy (/usr/bin/python3 does).
"""
import hashlib, io, json, os, pickle, struct, sys, tarfile, zipfile, collections, base64

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "seeds")


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# safetensors: two tensors, metadata, and an empty one.
def st(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data

put("safetensors", "two.safetensors", st({"__metadata__": {"k": "v"},
    "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}}, bytes(22)))
put("safetensors", "empty.safetensors", st({}, b""))
put("safetensors", "i8.safetensors", st({"x": {"dtype": "I8", "shape": [0, 4], "data_offsets": [0, 0]}}, b""))

# GGUF v3: a few KV types, an array, two tensors.
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def gguf(kvs, tensors, align=32):
    body = b""
    for k, t, v in kvs:
        body += gstr(k) + struct.pack("<i", t) + v
    off = 0
    tinfo = b""
    for name, dims, ggml, nbytes in tensors:
        tinfo += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        tinfo += struct.pack("<iQ", ggml, off)
        off += (nbytes + align - 1) // align * align
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + body + tinfo
    head += bytes(-len(head) % align)
    return head + bytes(off)

arr = struct.pack("<iQ", 8, 2) + gstr("a") + gstr("bc")
put("gguf", "small.gguf", gguf([("general.architecture", 8, gstr("llama")),
                               ("llama.block_count", 4, struct.pack("<I", 1)),
                               ("f", 6, struct.pack("<f", 1.5)),
                               ("tokens", 9, arr)],
                              [("w", [4, 2], 0, 32), ("q", [32], 8, 34)]))

# pickles: protocol 0..5 of the shapes torch checkpoints hold, plus a global.
obj = collections.OrderedDict(a=[1, 2.5, "s", b"b", None, True, (1, 2)], n=2**70, d={"x": -1})
for p in range(0, 6):
    put("pickle", f"p{p}.pkl", pickle.dumps(obj, protocol=p))
put("pickle", "global.pkl", pickle.dumps(collections.OrderedDict, protocol=2))

# PyTorch zip: torch.save of a small state dict (zip), and the legacy format.
try:
    import torch
    sd = collections.OrderedDict(w=torch.arange(6, dtype=torch.float32).reshape(2, 3),
                                 b=torch.zeros(2, dtype=torch.float16), step=3)
    buf = io.BytesIO(); torch.save(sd, buf); put("pytorch_zip", "state.pt", buf.getvalue())
    buf = io.BytesIO(); torch.save(sd, buf, _use_new_zipfile_serialization=False)
    put("pytorch_zip", "legacy.pt", buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(open(os.path.join(out, "pytorch_zip", "state.pt"), "rb").read())) as z:
        put("pickle", "torch_data.pkl", z.read([n for n in z.namelist() if n.endswith("data.pkl")][0]))
except ImportError:
    print("torch missing: no pytorch seeds", file=sys.stderr)

# llama2.c: a tiny legacy (v0) checkpoint and a v1 one; a tokenizer of 4 entries.
def llama2c_v0(dim=8, hidden=16, layers=1, heads=2, kv=2, vocab=4, seq=4):
    head = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq)
    hs = dim // heads
    n = vocab * dim + layers * dim + layers * dim * (heads * hs) + 2 * layers * dim * (kv * hs) \
        + layers * (heads * hs) * dim + layers * dim + 3 * layers * dim * hidden + dim + seq * hs
    return head + bytes(4 * n)
put("llama2c", "v0.bin", llama2c_v0())
v1 = b"ak42" + struct.pack("<i", 1) + struct.pack("<7i", 8, 16, 1, 2, 2, 4, 4) + b"\x01"
v1 += bytes(256 - len(v1))
dim, hidden = 8, 16
v1 += bytes(4 * (dim + dim + dim + 4 * dim + 4 * dim * dim + 3 * dim * hidden))
put("llama2c", "v1.bin", v1)
tok = struct.pack("<i", 3)
for i, p in enumerate([b"<unk>", b"a", b"bc", b" d"]):
    tok += struct.pack("<fi", float(-i), len(p)) + p
put("llama2c_tokenizer", "tok4.bin", b"\x03\x00" + tok)  # first two bytes: vocab - 1

# OMS bundle: the shape model_signing writes (content is not verified by the parser).
stmt = {"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "model", "digest": {"sha256": hashlib.sha256(b"x").hexdigest()}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {"serialization": {"method": "files", "hash_type": "sha256",
                                        "allow_symlinks": False, "ignore_paths": []},
                      "resources": [{"name": "a.bin", "algorithm": "sha256",
                                     "digest": hashlib.sha256(b"x").hexdigest()}]}}
payload = json.dumps(stmt, indent=2).encode()
bundle = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
          "verificationMaterial": {"publicKey": {"hint": "k"}, "tlogEntries": []},
          "dsseEnvelope": {"payload": base64.b64encode(payload).decode(),
                           "payloadType": "application/vnd.in-toto+json",
                           "signatures": [{"sig": base64.b64encode(b"0\x06\x02\x01\x01\x02\x01\x01").decode(),
                                           "keyid": ""}]}}
put("oms_bundle", "bundle.sig", json.dumps(bundle))
put("oms_bundle", "statement.json", payload)

# OCI: a manifest, an index, and a whole layout tar holding them.
def desc(media, data, **extra):
    d = {"mediaType": media, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
    d.update(extra)
    return d
config = json.dumps({"descriptor": {"name": "m"}, "config": {}, "modelfs": {"type": "layers", "diffIds": []}}).encode()
layer = b"weights"
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "artifactType": "application/vnd.cncf.model.manifest.v1+json",
                       "config": desc("application/vnd.cncf.model.config.v1+json", config),
                       "layers": [desc("application/vnd.cncf.model.weight.v1.raw", layer,
                                       annotations={"org.cncf.model.filepath": "model.safetensors"})]}).encode()
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [desc("application/vnd.oci.image.manifest.v1+json", manifest,
                                       annotations={"org.opencontainers.image.ref.name": "latest"})]}).encode()
put("oci_json", "manifest.json", manifest)
put("oci_json", "index.json", index)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", index)
    for blob in (manifest, config, layer):
        add("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)
put("oci_tar", "layout.tar", buf.getvalue())
