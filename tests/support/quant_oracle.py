"""Reference conversions for tests/quant_test.cpp, computed by gguf-py and numpy.

Usage: quant_oracle.py JOB...   where each JOB is  OP:TYPE:IN:OUT
  quantize:Q8_0|Q4_0|BF16:in.f32:out.bin   f32 values -> blocks (gguf.quants.quantize)
  quantize:F16:in.f32:out.bin              f32 -> f16 (numpy astype, round to nearest even)
  dequantize:Q8_0|Q4_0|Q4_K|Q6_K|BF16:in.bin:out.f32   blocks -> f32 (gguf.quants.dequantize)
  dequantize:F16:in.bin:out.f32            f16 -> f32 (numpy astype)
Exits 77 when numpy or gguf is missing, so the test can skip.
"""
import sys

try:
    import numpy as np
    from gguf import GGMLQuantizationType, quants
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(77)

for job in sys.argv[1:]:
    op, typ, src, dst = job.split(":")
    raw = np.fromfile(src, dtype=np.uint8)
    with np.errstate(all="ignore"):
        if typ == "F16":
            if op == "quantize":
                out = raw.view(np.float32).astype(np.float16)
            else:
                out = raw.view(np.float16).astype(np.float32)
        else:
            qtype = GGMLQuantizationType[typ]
            if op == "quantize":
                out = quants.quantize(raw.view(np.float32), qtype)
            else:
                block, size = quants.GGML_QUANT_SIZES[qtype]
                out = quants.dequantize(raw.reshape(-1, size), qtype).astype(np.float32)
    out.tofile(dst)
