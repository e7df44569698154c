"""weightgate convert against the reference Python packages.

gguf-py (the package llama.cpp's converters use) is the oracle: it reads every GGUF we
write, its quantizer (gguf.quants.quantize) must give the bytes we give, and the Q/K
permutation of a Hugging Face checkpoint must be convert_hf_to_gguf.py's `permute`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGUFReader, GGMLQuantizationType as QT  # noqa: E402
from safetensors.numpy import save_file, load_file  # noqa: E402

BIN = os.environ["WG_BINARY"]
DATA = os.environ["WG_TESTDATA_DIR"]
STORIES = os.path.join(DATA, "models/stories260K/stories260K.bin")
STORIES_GGUF = os.path.join(DATA, "models/stories260K-gguf/stories260K.gguf")


def convert(*args):
    r = subprocess.run([BIN, "convert", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def tensors(path):
    return {t.name: t for t in GGUFReader(path).tensors}


def f32_values(t):
    """A reference tensor's values, outermost-first (numpy order)."""
    return np.asarray(t.data, dtype=np.float32).reshape(list(reversed([int(x) for x in t.shape])))


@pytest.mark.parametrize("qtype", ["q8_0", "q4_0"])
def test_quantized_tensors_equal_gguf_py_quantizer(tmp_path, qtype):
    out = tmp_path / f"s.{qtype}.gguf"
    r = convert(STORIES, str(out), "--dtype", qtype)
    assert "ffn_down" in r.stderr  # the F16 fallback is announced
    want_q = {"q8_0": QT.Q8_0, "q4_0": QT.Q4_0}[qtype]
    ref = tensors(STORIES_GGUF)
    ours = tensors(str(out))
    assert set(ours) | {"output.weight"} == set(ref)
    for name, t in ours.items():
        values = f32_values(ref[name])
        if values.ndim == 1 or name.endswith("_norm.weight"):
            expected, qt = values, QT.F32
        elif values.shape[-1] % 32 != 0:
            expected, qt = values.astype(np.float16), QT.F16
        else:
            expected, qt = gguf.quants.quantize(values, want_q), want_q
        assert t.tensor_type == qt, name
        assert np.asarray(t.data).tobytes() == np.ascontiguousarray(expected).tobytes(), name


def test_kvs_read_by_gguf_py(tmp_path):
    out = tmp_path / "s.gguf"
    convert(STORIES, str(out))
    ours, ref = GGUFReader(str(out)), GGUFReader(STORIES_GGUF)
    for key in ["general.architecture", "llama.embedding_length", "llama.feed_forward_length",
                "llama.block_count", "llama.attention.head_count", "llama.attention.head_count_kv",
                "llama.rope.dimension_count", "llama.attention.layer_norm_rms_epsilon",
                "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id",
                "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"]:
        assert ours.fields[key].contents() == ref.fields[key].contents(), key
    assert ours.fields["llama.context_length"].contents() == 512
    assert ours.fields["general.file_type"].contents() == 0


def permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute, verbatim."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2)
            .reshape(w.shape))


def make_hf_folder(path, dtype=np.float32):
    dim, ff, layers, heads, kv, vocab = 64, 96, 2, 4, 2, 40
    rng = np.random.default_rng(7)
    sd = {"model.embed_tokens.weight": rng.standard_normal((vocab, dim)),
          "model.norm.weight": rng.standard_normal(dim),
          "lm_head.weight": rng.standard_normal((vocab, dim))}
    for i in range(layers):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = rng.standard_normal((dim, dim))
        sd[p + "self_attn.k_proj.weight"] = rng.standard_normal((dim * kv // heads, dim))
        sd[p + "self_attn.v_proj.weight"] = rng.standard_normal((dim * kv // heads, dim))
        sd[p + "self_attn.o_proj.weight"] = rng.standard_normal((dim, dim))
        sd[p + "mlp.gate_proj.weight"] = rng.standard_normal((ff, dim))
        sd[p + "mlp.up_proj.weight"] = rng.standard_normal((ff, dim))
        sd[p + "mlp.down_proj.weight"] = rng.standard_normal((dim, ff))
        sd[p + "input_layernorm.weight"] = rng.standard_normal(dim)
        sd[p + "post_attention_layernorm.weight"] = rng.standard_normal(dim)
    sd = {k: v.astype(dtype) for k, v in sd.items()}
    os.makedirs(path)
    save_file(sd, os.path.join(path, "model.safetensors"))
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
           "intermediate_size": ff, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv, "vocab_size": vocab, "max_position_embeddings": 128,
           "rms_norm_eps": 1e-6, "rope_theta": 500000.0, "tie_word_embeddings": False}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    return sd, cfg


NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
         "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
         "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
         "post_attention_layernorm": "ffn_norm"}


def gguf_name(hf):
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if hf in fixed:
        return fixed[hf]
    parts = hf.split(".")
    return f"blk.{parts[2]}.{NAMES['.'.join(parts[3:-1])]}.weight"


def test_hf_folder_to_gguf_permutes_like_convert_hf_to_gguf(tmp_path):
    sd, cfg = make_hf_folder(str(tmp_path / "hf"))
    out = tmp_path / "m.gguf"
    convert(str(tmp_path / "hf"), str(out))
    reader = GGUFReader(str(out))
    got = {t.name: t for t in reader.tensors}
    assert set(got) == {gguf_name(k) for k in sd}
    for hf, w in sd.items():
        want = w
        if hf.endswith("q_proj.weight"):
            want = permute(w, cfg["num_attention_heads"], cfg["num_attention_heads"])
        elif hf.endswith("k_proj.weight"):
            want = permute(w, cfg["num_attention_heads"], cfg["num_key_value_heads"])
        assert np.asarray(got[gguf_name(hf)].data).tobytes() == want.tobytes(), hf
    assert reader.fields["llama.rope.freq_base"].contents() == 500000.0
    assert reader.fields["llama.context_length"].contents() == 128
    assert abs(reader.fields["llama.attention.layer_norm_rms_epsilon"].contents() - 1e-6) < 1e-12

    # And back: GGUF -> Hugging Face gives the original tensors and configuration.
    back = tmp_path / "back"
    convert(str(out), str(back), "--to", "safetensors")
    st = load_file(str(back / "model.safetensors"))
    assert set(st) == set(sd)
    for k in sd:
        assert st[k].tobytes() == sd[k].tobytes(), k
    cfg_back = json.loads((back / "config.json").read_text())
    for k in ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "vocab_size", "max_position_embeddings", "rms_norm_eps",
              "rope_theta", "tie_word_embeddings"]:
        assert cfg_back[k] == cfg[k], k


def test_hf_bf16_to_f16_gguf(tmp_path):
    torch = pytest.importorskip("torch")
    sd, _ = make_hf_folder(str(tmp_path / "hf"))
    bf = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in sd.items()}
    from safetensors.torch import save_file as save_torch
    save_torch(bf, str(tmp_path / "hf" / "model.safetensors"))
    out = tmp_path / "m.gguf"
    convert(str(tmp_path / "hf"), str(out), "--dtype", "f16")
    got = tensors(str(out))
    for hf, w in bf.items():
        t = got[gguf_name(hf)]
        f = w.float().numpy()
        if f.ndim == 1:
            assert t.tensor_type == QT.F32
            assert np.asarray(t.data).tobytes() == f.tobytes(), hf
        else:
            assert t.tensor_type == QT.F16
            if hf.endswith("k_proj.weight"):
                f = permute(f, 4, 2)
            elif hf.endswith("q_proj.weight"):
                f = permute(f, 4, 4)
            assert np.asarray(t.data).tobytes() == f.astype(np.float16).tobytes(), hf


def test_sharded_pytorch_folder_equals_safetensors_folder(tmp_path):
    torch = pytest.importorskip("torch")
    sd, cfg = make_hf_folder(str(tmp_path / "st"))
    convert(str(tmp_path / "st"), str(tmp_path / "st.gguf"))
    pt = tmp_path / "pt"
    os.makedirs(pt)
    names = sorted(sd)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate([names[:half], names[half:]]):
        shard = f"pytorch_model-0000{i + 1}-of-00002.bin"
        # Transposed views, as some exporters leave them: the converter gathers them.
        torch.save({k: torch.from_numpy(sd[k].T.copy()).t() if sd[k].ndim == 2 else
                    torch.from_numpy(sd[k]) for k in part}, str(pt / shard))
        weight_map.update({k: shard for k in part})
    (pt / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (pt / "config.json").write_text(json.dumps(cfg))
    convert(str(pt), str(tmp_path / "pt.gguf"))
    a, b = tensors(str(tmp_path / "st.gguf")), tensors(str(tmp_path / "pt.gguf"))
    assert set(a) == set(b)
    for k in a:
        assert np.asarray(a[k].data).tobytes() == np.asarray(b[k].data).tobytes(), k


def unpermute(w, n_head):
    """transformers' convert_llama_weights_to_hf.py permute (GGUF/Meta -> HF order)."""
    rows, cols = w.shape
    return w.reshape(n_head, rows // n_head // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def test_quantized_gguf_dequantizes_like_gguf_py(tmp_path):
    q = tmp_path / "s8.gguf"
    convert(STORIES, str(q), "--dtype", "q8_0")
    convert(str(q), str(tmp_path / "s.safetensors"))
    st = load_file(str(tmp_path / "s.safetensors"))
    for name, t in tensors(str(q)).items():
        shape = list(reversed([int(x) for x in t.shape]))
        want = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(shape).astype(np.float32)
        hf = gguf_to_hf(name)
        if ".attn_q." in name:
            want = unpermute(want, 8)
        elif ".attn_k." in name:
            want = unpermute(want, 4)
        # Quantized tensors come out as F32; F16/F32 ones keep their dtype.
        assert st[hf].dtype == (np.float16 if t.tensor_type == QT.F16 else np.float32), name
        assert st[hf].tobytes() == want.astype(st[hf].dtype).tobytes(), name


def gguf_to_hf(name):
    inverse = {v: k for k, v in NAMES.items()}
    fixed = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if name in fixed:
        return fixed[name]
    _, layer, what, _ = name.split(".")
    return f"model.layers.{layer}.{inverse[what]}.weight"
