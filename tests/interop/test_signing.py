"""OMS signing interop: weightgate against the reference tool model_signing (PyPI model-signing).

Both directions, key and certificate methods, file and shard serialization, and tampered
folders failing in both tools. model_signing's command line only hashes with files + sha256
(it re-hashes with hashing.Config() whatever the bundle says), so shards and BLAKE3 go through
its Python API, which takes the serialization from the bundle.
"""
import datetime
import json
import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

model_signing = pytest.importorskip(
    "model_signing", reason="model_signing (PyPI model-signing) is not installed: run scripts/setup-venv")
from cryptography import x509  # noqa: E402  (installed with model_signing)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

WG = os.environ.get("WG_BINARY", "build/bin/weightgate")
SOURCE = Path(os.environ.get("WG_SOURCE_DIR", Path(__file__).resolve().parents[2]))
MODEL_SRC = SOURCE / "examples/models/stories260K"
MS_CLI = [sys.executable, "-m", "model_signing"]


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def wg(*args):
    return run([WG, *args])


def ms(*args):
    return run([*MS_CLI, *args])


@pytest.fixture
def model(tmp_path):
    dst = tmp_path / "stories260K"
    shutil.copytree(MODEL_SRC, dst)
    # a nested file and an empty file, which every serialization must handle alike
    (dst / "extra").mkdir()
    (dst / "extra" / "notes.txt").write_text("tokenizer notes\n")
    (dst / "extra" / "empty.bin").write_bytes(b"")
    # git files are left out by both tools
    (dst / ".gitignore").write_text("*.tmp\n")
    return dst


def keygen(tmp_path, algo="ecdsa-p256", name="k"):
    r = wg("keygen", "--algo", algo, "-o", tmp_path / name)
    assert r.returncode == 0, r.stderr
    return tmp_path / f"{name}.key", tmp_path / f"{name}.pub"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_pem(path, obj):
    path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def pki(tmp_path):
    """An RSA root CA, an EC intermediate CA and an EC P-384 code-signing leaf."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    def cert(subject, issuer, pub, signer, ca, leaf_usage=True):
        b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
             .public_key(pub).serial_number(x509.random_serial_number())
             .not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                critical=True)
        elif leaf_usage:
            b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                critical=True)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        return b.sign(signer, hashes.SHA256())

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    int_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP384R1())
    root = cert("weightgate test root", "weightgate test root", root_key.public_key(), root_key, True)
    inter = cert("weightgate test intermediate", "weightgate test root", int_key.public_key(), root_key, True)
    leaf = cert("weightgate test signer", "weightgate test intermediate", leaf_key.public_key(), int_key, False)
    d = tmp_path / "pki"
    d.mkdir()
    _write_pem(d / "root.pem", root)
    _write_pem(d / "int.pem", inter)
    _write_pem(d / "leaf.pem", leaf)
    (d / "leaf.key").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    # a second, unrelated root: the chain must not verify against it
    other_key = ec.generate_private_key(ec.SECP256R1())
    _write_pem(d / "other-root.pem", cert("other root", "other root", other_key.public_key(), other_key, True))
    return d


def payload(sig_path):
    bundle = json.loads(Path(sig_path).read_text())
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


# --- weightgate signs, model_signing verifies -------------------------------------------------

@pytest.mark.parametrize("algo", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"])
def test_weightgate_key_signature_verifies_with_model_signing(tmp_path, model, algo):
    key, pub = keygen(tmp_path, algo)
    r = wg("sign", model, "--key", key)
    assert r.returncode == 0, r.stderr
    sig = model / "model.sig"
    r = ms("verify", "key", model, "--signature", sig, "--public_key", pub)
    assert r.returncode == 0, r.stderr
    assert wg("verify", model, "--pub", pub).returncode == 0
    names = [res["name"] for res in payload(sig)["predicate"]["resources"]]
    assert "model.sig" not in names and ".gitignore" not in names
    assert "extra/notes.txt" in names and "extra/empty.bin" in names


def test_weightgate_encrypted_key_signature_verifies_with_model_signing(tmp_path, model):
    (tmp_path / "pass").write_text("correct horse\n")
    r = wg("keygen", "--algo", "ecdsa-p384", "-o", tmp_path / "enc", "--passphrase-file", tmp_path / "pass")
    assert r.returncode == 0, r.stderr
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "enc.key").read_bytes()
    assert wg("sign", model, "--key", tmp_path / "enc.key").returncode == 2  # no passphrase
    r = wg("sign", model, "--key", tmp_path / "enc.key", "--passphrase-file", tmp_path / "pass")
    assert r.returncode == 0, r.stderr
    r = ms("verify", "key", model, "--signature", model / "model.sig", "--public_key", tmp_path / "enc.pub")
    assert r.returncode == 0, r.stderr
    # model_signing signs with the same encrypted key. Its CLI's --password hands a str to
    # cryptography and fails in 1.1.1 ("Cannot convert <class 'str'>"), so use its API.
    sig2 = tmp_path / "ms.sig"
    (model_signing.signing.Config()
     .use_elliptic_key_signer(private_key=tmp_path / "enc.key", password=b"correct horse")
     .set_hashing_config(model_signing.hashing.Config().set_ignored_paths(paths=[model / "model.sig"]))
     .sign(model, sig2))
    assert wg("verify", model, "--pub", tmp_path / "enc.pub", "--signature", sig2).returncode == 0


def test_weightgate_certificate_signature_verifies_with_model_signing(tmp_path, model, pki):
    r = wg("sign", model, "--key", pki / "leaf.key", "--cert", pki / "leaf.pem", "--chain", pki / "int.pem")
    assert r.returncode == 0, r.stderr
    sig = model / "model.sig"
    chain = json.loads(sig.read_text())["verificationMaterial"]["x509CertificateChain"]["certificates"]
    assert len(chain) == 2
    r = ms("verify", "certificate", model, "--signature", sig, "--certificate_chain", pki / "root.pem")
    assert r.returncode == 0, r.stderr
    assert wg("verify", model, "--trust-root", pki / "root.pem").returncode == 0
    # an unrelated root: untrusted in both tools
    r = ms("verify", "certificate", model, "--signature", sig, "--certificate_chain", pki / "other-root.pem")
    assert r.returncode != 0
    assert wg("verify", model, "--trust-root", pki / "other-root.pem").returncode == 5


def test_weightgate_shard_signature_verifies_with_model_signing_api(tmp_path, model):
    key, pub = keygen(tmp_path, "ecdsa-p256")
    r = wg("sign", model, "--key", key, "--serialization", "shards", "--shard-size", "100000")
    assert r.returncode == 0, r.stderr
    p = payload(model / "model.sig")
    assert p["predicate"]["serialization"]["method"] == "shards"
    names = [res["name"] for res in p["predicate"]["resources"]]
    assert "stories260K.bin:0:100000" in names and "stories260K.bin:1000000:1056540" in names
    assert all(res["algorithm"] == "sha256-sharded-100000" for res in p["predicate"]["resources"])
    # no hashing config: model_signing rebuilds it from the bundle's serialization
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, model / "model.sig")
    assert wg("verify", model, "--pub", pub).returncode == 0


def test_weightgate_blake3_signature_verifies_with_model_signing_api(tmp_path, model):
    key, pub = keygen(tmp_path, "ecdsa-p256")
    r = wg("sign", model, "--key", key, "--hash", "blake3")
    assert r.returncode == 0, r.stderr
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, model / "model.sig")
    assert wg("verify", model, "--pub", pub).returncode == 0


# --- model_signing signs, weightgate verifies -------------------------------------------------

@pytest.mark.parametrize("algo", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"])
def test_model_signing_key_signature_verifies_with_weightgate(tmp_path, model, algo):
    key, pub = keygen(tmp_path, algo)
    r = ms("sign", "key", model, "--private_key", key, "--signature", model / "model.sig")
    assert r.returncode == 0, r.stderr
    r = wg("verify", model, "--pub", pub, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["method"] == "key" and doc["verified"] == doc["resources"] == 7


def test_model_signing_certificate_signature_verifies_with_weightgate(tmp_path, model, pki):
    r = ms("sign", "certificate", model, "--private_key", pki / "leaf.key", "--signing_certificate",
           pki / "leaf.pem", "--certificate_chain", pki / "int.pem", "--signature", model / "model.sig")
    assert r.returncode == 0, r.stderr
    r = wg("verify", model, "--trust-root", pki / "root.pem", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["signer"] == "CN=weightgate test signer"
    assert wg("verify", model, "--trust-root", pki / "other-root.pem").returncode == 5


@pytest.mark.parametrize("hash_type", ["sha256", "blake3"])
@pytest.mark.parametrize("method", ["files", "shards"])
def test_model_signing_api_serializations_verify_with_weightgate(tmp_path, model, method, hash_type):
    key, pub = keygen(tmp_path, "ecdsa-p384")
    sig = model / "model.sig"
    hashing = model_signing.hashing.Config().set_ignored_paths(paths=[sig])
    if method == "shards":
        hashing = hashing.use_shard_serialization(hashing_algorithm=hash_type, shard_size=300000)
    else:
        hashing = hashing.use_file_serialization(hashing_algorithm=hash_type)
    (model_signing.signing.Config().use_elliptic_key_signer(private_key=key)
     .set_hashing_config(hashing).sign(model, sig))
    r = wg("verify", model, "--pub", pub, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    # model_signing hashes BLAKE3 "shards" as whole files
    expected_method = "shards" if method == "shards" and hash_type == "sha256" else "files"
    assert doc["serialization"]["method"] == expected_method
    assert doc["serialization"]["hash_type"] == hash_type
    (model / "stories260K.bin").write_bytes(b"\0" + (model / "stories260K.bin").read_bytes()[1:])
    r = wg("verify", model, "--pub", pub, "--json")
    assert r.returncode == 1
    assert any(n.startswith("stories260K.bin") for n in json.loads(r.stdout)["modified"])


def test_same_manifest_as_model_signing(tmp_path, model):
    """Same folder, same resources in the same order: the same root digest."""
    key, _ = keygen(tmp_path, "ecdsa-p256")
    for name in ["a b", "a-b", "a.b", "a/b", "a/c/d", "Z", "_"]:
        (model / "names" / name).parent.mkdir(parents=True, exist_ok=True)
        (model / "names" / name).write_text(name)
    ours, theirs = tmp_path / "ours.sig", tmp_path / "theirs.sig"
    assert wg("sign", model, "--key", key, "-o", ours).returncode == 0
    assert ms("sign", "key", model, "--private_key", key, "--signature", theirs).returncode == 0
    a, b = payload(ours), payload(theirs)
    assert a["subject"] == b["subject"]
    assert a["predicate"]["resources"] == [
        {"name": r["name"], "algorithm": r["algorithm"], "digest": r["digest"]} for r in b["predicate"]["resources"]]


# --- tampering fails in both tools -----------------------------------------------------------

def _flip(path, where):
    data = bytearray(path.read_bytes())
    i = {"start": 0, "middle": len(data) // 2, "end": len(data) - 1}[where]
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


TAMPERS = {
    "flip-start": lambda m: _flip(m / "stories260K.bin", "start"),
    "flip-middle": lambda m: _flip(m / "tok512.model", "middle"),
    "flip-end": lambda m: _flip(m / "tok512.bin", "end"),
    "truncate": lambda m: (m / "stories260K.bin").write_bytes((m / "stories260K.bin").read_bytes()[:-1]),
    "append": lambda m: (m / "LICENSE").write_bytes((m / "LICENSE").read_bytes() + b"\n"),
    "add": lambda m: (m / "extra" / "new.txt").write_text("new"),
    "remove": lambda m: (m / "tok512.bin").unlink(),
    "rename": lambda m: (m / "tok512.bin").rename(m / "tok512.bin2"),
    "fill-empty": lambda m: (m / "extra" / "empty.bin").write_bytes(b"\0"),
}


@pytest.mark.parametrize("signer", ["weightgate", "model_signing"])
@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampered_folder_fails_in_both(tmp_path, model, signer, tamper):
    key, pub = keygen(tmp_path, "ecdsa-p256")
    sig = model / "model.sig"
    if signer == "weightgate":
        assert wg("sign", model, "--key", key).returncode == 0
    else:
        assert ms("sign", "key", model, "--private_key", key, "--signature", sig).returncode == 0
    TAMPERS[tamper](model)
    r = ms("verify", "key", model, "--signature", sig, "--public_key", pub)
    assert r.returncode != 0 and "Signature mismatch" in r.stderr, r.stderr
    r = wg("verify", model, "--pub", pub, "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert not doc["ok"] and (doc["missing"] or doc["extra"] or doc["modified"])


def test_signature_from_another_key_fails_in_both(tmp_path, model):
    key, _ = keygen(tmp_path, "ecdsa-p256", "a")
    _, other_pub = keygen(tmp_path, "ecdsa-p256", "b")
    assert wg("sign", model, "--key", key).returncode == 0
    r = ms("verify", "key", model, "--signature", model / "model.sig", "--public_key", other_pub)
    assert r.returncode != 0
    assert wg("verify", model, "--pub", other_pub).returncode == 5


def test_edited_statement_fails_in_both(tmp_path, model):
    key, pub = keygen(tmp_path, "ecdsa-p256")
    assert wg("sign", model, "--key", key).returncode == 0
    sig = model / "model.sig"
    bundle = json.loads(sig.read_text())
    stmt = payload(sig)
    stmt["subject"][0]["name"] = "renamed"
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    sig.write_text(json.dumps(bundle))
    r = ms("verify", "key", model, "--signature", sig, "--public_key", pub)
    assert r.returncode != 0
    assert wg("verify", model, "--pub", pub).returncode == 4
