"""Writes the PyTorch checkpoint fixtures for tests/pytorch_test.cpp into OUTDIR.

torch itself is the oracle: every checkpoint is written by torch.save, and each
tensor's expected bytes come from torch (tensor.contiguous().numpy().tobytes()).
Malicious pickles are built with Python's pickle from objects whose __reduce__
names a dangerous callable; nothing here ever unpickles them. OUTDIR/manifest.json
describes what was written.

usage: python make_pytorch_fixtures.py OUTDIR   (exit status 77: no torch here)
"""

import collections
import io
import json
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import zipfile
import zlib

try:
    import torch
except ImportError:
    sys.exit(77)  # tells the test to skip: this python has no torch

OUT = sys.argv[1]
SENTINEL = os.path.join(OUT, "SENTINEL")
manifest = {"sentinel": SENTINEL, "checkpoints": [], "malicious": [], "corrupt": {}}

WG_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def path(name):
    return os.path.join(OUT, name)


def expected_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: compare the bit patterns
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def save_checkpoint(name, obj, tensors, metadata=None, **save_args):
    """torch.save(obj) to NAME and record each (flattened name, tensor) to expect."""
    torch.save(obj, path(name), **save_args)
    entry = {"file": name, "tensors": [], "metadata": metadata or {}}
    for i, (tname, t) in enumerate(tensors):
        bin_name = f"{name}.{i}.bin"
        with open(path(bin_name), "wb") as f:
            f.write(expected_bytes(t))
        entry["tensors"].append({"name": tname, "dtype": WG_DTYPE[t.dtype],
                                 "shape": list(t.shape), "expected": bin_name,
                                 "contiguous": t.is_contiguous()})
    manifest["checkpoints"].append(entry)


def rezip(src, dst, replace=None, compression=zipfile.ZIP_STORED, extra=()):
    """Copies a zip entry by entry, replacing some entries' bytes."""
    replace = replace or {}
    with zipfile.ZipFile(path(src)) as zin, zipfile.ZipFile(path(dst), "w", compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            for suffix, new in replace.items():
                if info.filename.endswith(suffix):
                    data = new
            zout.writestr(info.filename, data)
        for entry_name, data in extra:
            zout.writestr(entry_name, data)


torch.manual_seed(0)

# --- every dtype -------------------------------------------------------------
dtypes = collections.OrderedDict()
dtypes["f64"] = torch.randn(3, 4, dtype=torch.float64)
dtypes["f32"] = torch.randn(5, 2)
dtypes["f16"] = torch.randn(7).half()
dtypes["bf16"] = torch.randn(2, 3).bfloat16()
dtypes["i64"] = torch.randint(-2**62, 2**62, (4,), dtype=torch.int64)
dtypes["i32"] = torch.randint(-2**31, 2**31 - 1, (2, 2), dtype=torch.int32)
dtypes["i16"] = torch.randint(-2**15, 2**15 - 1, (3,), dtype=torch.int16)
dtypes["i8"] = torch.randint(-128, 127, (9,), dtype=torch.int8)
dtypes["u8"] = torch.randint(0, 255, (2, 5), dtype=torch.uint8)
dtypes["bool"] = torch.rand(6) > 0.5
save_checkpoint("dtypes.pt", dtypes, list(dtypes.items()))

# --- tied weights, views, strides ----------------------------------------------
w = torch.randn(4, 3)
save_checkpoint("tied.pt", {"embed.weight": w, "lm_head.weight": w, "rows": w[2:]},
                [("embed.weight", w), ("lm_head.weight", w), ("rows", w[2:])])

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
line = torch.arange(10, dtype=torch.float32)
views = {
    "line_tail": line[3:],          # storage offset 3
    "transposed": base.t(),         # strides (1, 6)
    "every_other": base[:, ::2],    # strides (6, 2)
    "expanded": torch.ones(1, 3).expand(4, 3),  # stride 0
    "scalar": torch.tensor(3.5),
    "empty": torch.zeros(0, 3),
}
save_checkpoint("views.pt", views, list(views.items()))

# --- nn.Module state dict and Parameters ---------------------------------------
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
sd = model.state_dict()
param = torch.nn.Parameter(torch.randn(2, 2))
save_checkpoint("module.pt", {"sd": sd, "param": param},
                [("sd." + k, v) for k, v in sd.items()] + [("param", param)])

# --- nested dicts, lists, non-tensor leaves -------------------------------------
inner = {"w": torch.randn(2, 2), "layers": [torch.randn(3), torch.randn(1, 2)]}
nested = {
    "model": inner, "epoch": 3, "name": "x", "lr": 0.5, "flags": [1, 2], "none": None,
    "done": True, "dtype": torch.float16, "size": torch.Size([2, 3]), "blob": b"abc",
    "big": 2**70, "opt": {"step": 10, "betas": (0.9, 0.999)},
}
save_checkpoint(
    "nested.pt", nested,
    [("model.w", inner["w"]), ("model.layers.0", inner["layers"][0]),
     ("model.layers.1", inner["layers"][1])],
    metadata={"epoch": 3, "name": "x", "lr": 0.5, "flags": [1, 2], "none": None, "done": True,
              "dtype": "torch.float16", "size": [2, 3], "blob": {"bytes": 3, "hex": "616263"},
              "big": str(2**70), "opt.step": 10, "opt.betas": [0.9, 0.999]})

# A single tensor saved on its own.
lone = torch.randn(3, 2)
save_checkpoint("lone.pt", lone, [("tensor", lone)])

# --- a ZIP64 archive with every size and offset in ZIP64 extra fields ------------
# What torch writes for checkpoints over 4 GiB, shrunk: the 32-bit fields saturate and
# the real values live in the extra fields. torch.load must accept it (oracle).
def write_zip64(src, dst):
    with zipfile.ZipFile(path(src)) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        name_b = name.encode()
        offset = len(out)
        crc = zlib.crc32(data)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        pad = (-(offset + 30 + len(name_b) + len(local_extra) + 4)) % 64
        local_extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # torch's 'FB' padding
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                           0xFFFFFFFF, len(name_b), len(local_extra)) + name_b + local_extra
        assert len(out) % 64 == 0
        out += data
        cen_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(name_b), len(cen_extra), 0, 0, 0, 0,
                               0xFFFFFFFF) + name_b + cen_extra
    cd_offset = len(out)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                       len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path(dst), "wb") as f:
        f.write(out)


write_zip64("dtypes.pt", "zip64.pt")
reloaded = torch.load(path("zip64.pt"))
assert all(torch.equal(reloaded[k], v) for k, v in dtypes.items())
zip64_entry = dict(next(c for c in manifest["checkpoints"] if c["file"] == "dtypes.pt"))
zip64_entry["file"] = "zip64.pt"
manifest["checkpoints"].append(zip64_entry)

# --- malicious pickles ---------------------------------------------------------
class Reduce:
    """Pickles as a call of fn(*args); unpickling it would run the call."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


import builtins  # noqa: E402
import runpy  # noqa: E402
import socket  # noqa: E402
import webbrowser  # noqa: E402

touch = f"touch {SENTINEL}"
families = {
    "os_system": (os.system, (touch,)),  # pickles as posix.system on Linux
    "subprocess_popen": (subprocess.Popen, (["touch", SENTINEL],)),
    "subprocess_check_output": (subprocess.check_output, (["touch", SENTINEL],)),
    "builtins_eval": (builtins.eval, (f"__import__('os').system('{touch}')",)),
    "builtins_exec": (builtins.exec, (f"import os; os.system('{touch}')",)),
    "builtins_getattr": (builtins.getattr, ("", "join")),
    "builtins_import": (builtins.__import__, ("os",)),
    "runpy_run_code": (runpy._run_code, (f"import os; os.system('{touch}')", {})),
    "webbrowser_open": (webbrowser.open, ("file://" + SENTINEL,)),
    "socket_connection": (socket.create_connection, (("127.0.0.1", 9),)),
}


def global_of(fn):
    return f"{fn.__module__}.{fn.__qualname__}"


def first_import(data):
    """The import a pickle makes first, as pickletools reads it."""
    strings = []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            return arg.replace(" ", ".", 1)
        if op.name == "STACK_GLOBAL":
            return strings[-2] + "." + strings[-1]
        if isinstance(arg, str):
            strings.append(arg)
    raise ValueError("no import")


def add_malicious(name, data, expect, pickle_name="data.pkl"):
    """Writes data as a bare pickle and inside a copy of a real torch.save zip."""
    with open(path(name + ".pkl"), "wb") as f:
        f.write(data)
    rezip("lone.pt", name + ".pt", replace={"/data.pkl": data})
    manifest["malicious"].append({"name": name, "global": expect})


for fam, (fn, args) in families.items():
    for proto in (2, 4):
        data = pickle.dumps(Reduce(fn, args), protocol=proto)
        # Protocols < 3 write Python 2 module names (builtins becomes __builtin__,
        # subprocess becomes commands), so the bytes say what to expect.
        expect = first_import(data)
        assert expect == global_of(fn) or proto < 3, expect
        add_malicious(f"evil_{fam}_p{proto}", data, expect)

# Protocol 0, the text form.
add_malicious("evil_os_system_p0", pickle.dumps(Reduce(os.system, (touch,)), protocol=0),
              global_of(os.system))


# Hand-written pickles for modules that cannot be imported here, or forms Python's
# pickler does not emit.
def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def call_global(module, name, arg):
    return (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + binunicode(arg) +
            b"\x85R.")


def short_unicode(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


add_malicious("evil_os_literal", call_global("os", "system", touch), "os.system")
add_malicious("evil_nt_system", call_global("nt", "system", touch), "nt.system")
# STACK_GLOBAL whose module string comes back from the memo: 'posix' is memoized while
# it goes into a list, then fetched with BINGET.
memo_stack_global = (b"\x80\x04]" + short_unicode("posix") + b"\x94a" + b"h\x00" +
                     short_unicode("system") + b"\x93" + short_unicode(touch) + b"\x85R.")
add_malicious("evil_memo_stack_global", memo_stack_global, "posix.system")
# Attribute walk through dunders under an innocent-looking module.
add_malicious("evil_dunder_walk",
              b"\x80\x04" + short_unicode("collections") +
              short_unicode("OrderedDict.__init__.__globals__") + b"\x93.",
              "collections.OrderedDict.__init__.__globals__")
# A harmless pickle followed by a malicious one: loaders that read on would run it.
with open(path("evil_second.pkl"), "wb") as f:
    f.write(pickle.dumps({"a": 1}, protocol=2) + pickle.dumps(Reduce(os.system, (touch,)), 2))

# --- legacy (pre-1.6) format -----------------------------------------------------
torch.save(dtypes, path("legacy.pt"), _use_new_zipfile_serialization=False)

# --- corrupt and unusual archives ------------------------------------------------
def data_pkl(src):
    with zipfile.ZipFile(path(src)) as z:
        return next(z.read(n) for n in z.namelist() if n.endswith("/data.pkl"))


lone_pkl = data_pkl("lone.pt")
manifest["corrupt"]["lone_pkl"] = "lone.pkl"
with open(path("lone.pkl"), "wb") as f:
    f.write(lone_pkl)

# Storage record shorter than the storage: 3x2 floats, record cut to 20 bytes.
with zipfile.ZipFile(path("lone.pt")) as z:
    prefix = z.namelist()[0].split("/")[0]
    storage = z.read(f"{prefix}/data/0")
rezip("lone.pt", "short_record.pt", replace={"/data/0": storage[:20]})
# The pickle claims a 3x3 view over the 6-element storage.
rezip("lone.pt", "view_past_storage.pt",
      replace={"/data.pkl": lone_pkl.replace(b"K\x03K\x02\x86", b"K\x03K\x03\x86")})
assert b"K\x03K\x03\x86" in data_pkl("view_past_storage.pt")
# An unknown opcode (0xff) in the middle of data.pkl, where the fourth opcode was.
at = [pos for _, _, pos in pickletools.genops(lone_pkl)][3]
rezip("lone.pt", "unknown_opcode.pt", replace={"/data.pkl": lone_pkl[:at] + b"\xff" +
                                                lone_pkl[at:]})
manifest["corrupt"]["unknown_opcode_offset"] = at
# The pickle references data/7, which is not in the archive.
rezip("lone.pt", "missing_record.pt",
      replace={"/data.pkl": lone_pkl.replace(binunicode("0"), binunicode("7"))})
# Re-zipped with deflate: data.pkl can be inflated, storages cannot be mapped.
rezip("dtypes.pt", "deflated.pt", compression=zipfile.ZIP_DEFLATED)
# Two entries with one name.
import warnings  # noqa: E402
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    rezip("lone.pt", "duplicate.pt", extra=[(f"{prefix}/data/0", storage)])


def patch_central(src, dst, entry, fmt, field_offset, value):
    """Rewrites one field of ENTRY's central directory header."""
    data = bytearray(open(path(src), "rb").read())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + name_len].decode().endswith(entry):
            struct.pack_into(fmt, data, pos + field_offset, value)
            break
        pos = data.find(b"PK\x01\x02", pos + 1)
    assert pos >= 0
    with open(path(dst), "wb") as f:
        f.write(data)


# data/0 claims 64 more bytes than it has, running over the next entry.
with zipfile.ZipFile(path("tied.pt")) as z:
    info = z.getinfo(f"{z.namelist()[0].split('/')[0]}/data/0")
patch_central("tied.pt", "overlap.tmp", "/data/0", "<I", 20, info.compress_size + 64)
patch_central("overlap.tmp", "overlap.pt", "/data/0", "<I", 24, info.file_size + 64)
os.remove(path("overlap.tmp"))
patch_central("tied.pt", "encrypted.pt", "/data/0", "<H", 8, 0x0809)

# A torch 2 style tensor of a dtype that needs _rebuild_tensor_v3 (float8 over an
# untyped storage), written by hand since torch 1.13 cannot.
f8_bytes = bytes(range(0x30, 0x38))
v3 = (b"\x80\x02}q\x00X\x02\x00\x00\x00f8c" + b"torch._utils\n_rebuild_tensor_v3\n" + b"((" +
      binunicode("storage") + b"ctorch\nUntypedStorage\n" + binunicode("0") + binunicode("cpu") +
      b"K\x08tQK\x00K\x02K\x04\x86K\x04K\x01\x86\x89ccollections\nOrderedDict\n)R" +
      b"ctorch\nfloat8_e4m3fn\ntRs.")
rezip("lone.pt", "v3.pt", replace={"/data.pkl": v3, "/data/0": f8_bytes})
manifest["corrupt"]["v3_bytes"] = f8_bytes.hex()

# Shared references: 40 levels of a dict holding the level below twice, 2^40 leaves
# from a pickle of a few hundred bytes.
laughs = bytearray(b"\x80\x02}q\x00")
for level in range(1, 41):
    laughs += b"}(" + binunicode("a") + b"h" + bytes([level - 1]) + binunicode("b") + b"h" + \
        bytes([level - 1]) + b"uq" + bytes([level])
laughs += b"."
rezip("lone.pt", "laughs.pt", replace={"/data.pkl": bytes(laughs)})

# A TorchScript archive: a zip with a data.pkl too, but of compiled code.
torch.jit.script(torch.nn.Linear(2, 2)).save(path("script.pt"))

# --- the scanner's oracle: pickletools' own walk of pickles with only GLOBAL imports --


def globals_of(stream, count, name):
    found = []
    for _ in range(count):
        for op, arg, pos in pickletools.genops(stream):
            if op.name == "GLOBAL":
                module, attr = arg.split(" ", 1)
                found.append([module, attr, pos, name])
    return found


scan_oracle = {}
for ckpt in ("dtypes.pt", "module.pt", "nested.pt"):
    with zipfile.ZipFile(path(ckpt)) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        scan_oracle[ckpt] = globals_of(io.BytesIO(z.read(pkl)), 1, pkl)
with open(path("legacy.pt"), "rb") as f:
    scan_oracle["legacy.pt"] = globals_of(f, 5, "legacy.pt")
manifest["scan_oracle"] = scan_oracle

with open(path("manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
