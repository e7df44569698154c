"""A derivative made by `weightgate convert PKG` is still an ordinary model file.

gguf-py reads the derivative GGUF of an open-weights package, finds the inherited policy
and the parent digest in its string metadata, and its tensors are those of the plain
conversion; the safetensors package reads the derivative's __metadata__.
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGUFReader  # noqa: E402
from safetensors import safe_open  # noqa: E402

BIN = os.environ["WG_BINARY"]
DATA = os.environ["WG_TESTDATA_DIR"]
SRC = os.environ["WG_SOURCE_DIR"]
MODEL = os.path.join(DATA, "models/stories260K")
POLICY = os.path.join(SRC, "examples/policies/open-weights-llama3.1.yaml")


def wg(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def string_field(reader, key):
    f = reader.fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


@pytest.fixture
def package(tmp_path):
    model = tmp_path / "stories260K"
    model.mkdir()
    for name in ("stories260K.bin", "tok512.bin"):
        shutil.copy(os.path.join(MODEL, name), model / name)
    pkg = tmp_path / "open.oci"
    wg("pack", str(model), "-o", str(pkg), "--policy", POLICY)
    wg("keygen", "-o", str(tmp_path / "user"))
    wg("accept", str(pkg), "--identity", str(tmp_path / "user.key"), "-o", str(tmp_path / "r"))
    digest = json.loads(wg("inspect", str(pkg), "--json").stdout)["manifest"]["digest"]
    return pkg, tmp_path / "r", digest


def test_derivative_gguf_loads_in_gguf_py(tmp_path, package):
    pkg, receipt, digest = package
    out = tmp_path / "Llama-stories-260K.gguf"
    wg("convert", str(pkg), str(out), "--receipt", str(receipt))
    plain = tmp_path / "plain.gguf"
    wg("convert", os.path.join(MODEL, "stories260K.bin"), str(plain), "--tokenizer",
       os.path.join(MODEL, "tok512.bin"))

    r = GGUFReader(str(out))
    assert string_field(r, "general.name") == "Llama-stories-260K"
    assert string_field(r, "weightgate.parent.digest") == digest
    with open(POLICY, encoding="utf-8") as f:
        assert string_field(r, "weightgate.policy") == f.read()
    ref = {t.name: t for t in GGUFReader(str(plain)).tensors}
    ours = {t.name: t for t in r.tensors}
    assert set(ours) == set(ref)
    for name, t in ours.items():
        assert t.tensor_type == ref[name].tensor_type, name
        assert np.asarray(t.data).tobytes() == np.asarray(ref[name].data).tobytes(), name


def test_derivative_safetensors_metadata(tmp_path, package):
    pkg, receipt, digest = package
    out = tmp_path / "Llama-st.safetensors"
    wg("convert", str(pkg), str(out), "--receipt", str(receipt))
    with safe_open(str(out), framework="numpy") as f:
        meta = f.metadata()
        assert meta["general.name"] == "Llama-st"
        assert meta["weightgate.parent.digest"] == digest
        assert meta["weightgate.policy"].startswith("# An open-weights release")
        assert len(list(f.keys())) > 0
