#!/usr/bin/env python3
"""Writes a synthetic ModelPack OCI layout of about SIZE_MIB for the registry benchmark.

Usage: make_synthetic_layout.py DIR SIZE_MIB [SHARDS=4]
Four weight shards of pseudo-random bytes (one raw layer each), a tokenizer and a config.
Prints the manifest digest.
"""
import hashlib
import json
import os
import sys


def main():
    root, size_mib = sys.argv[1], int(sys.argv[2])
    shards = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs)

    def put_bytes(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    def put_random(mib, seed):
        tmp = os.path.join(blobs, "tmp")
        h = hashlib.sha256()
        # 1 MiB of random bytes, its first 8 bytes varied per MiB: no two MiB are equal.
        base = os.urandom(1 << 20)
        with open(tmp, "wb") as f:
            for i in range(mib):
                block = (seed * 1000003 + i).to_bytes(8, "little") + base[8:]
                f.write(block)
                h.update(block)
        d = h.hexdigest()
        os.rename(tmp, os.path.join(blobs, d))
        return {"digest": "sha256:" + d, "size": mib << 20}

    layers = []
    per = max(1, size_mib // shards)
    for s in range(shards):
        desc = put_random(per, s)
        desc["mediaType"] = "application/vnd.cncf.model.weight.v1.raw"
        desc["annotations"] = {"org.cncf.model.filepath": "model-%05d-of-%05d.safetensors" % (s + 1, shards)}
        layers.append(desc)
    tok = put_bytes(json.dumps({"vocab": list(range(5000))}).encode())
    tok["mediaType"] = "application/vnd.cncf.model.weight.config.v1.raw"
    tok["annotations"] = {"org.cncf.model.filepath": "tokenizer.json"}
    layers.append(tok)
    config = put_bytes(json.dumps({"descriptor": {"name": "synthetic"},
                                   "config": {"format": "safetensors"},
                                   "modelfs": {"type": "layers", "diffIds": [l["digest"] for l in layers]}},
                                  separators=(",", ":")).encode())
    config["mediaType"] = "application/vnd.cncf.model.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.cncf.model.manifest.v1+json",
                "config": config, "layers": layers}
    m = put_bytes(json.dumps(manifest, separators=(",", ":")).encode())
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "artifactType": "application/vnd.cncf.model.manifest.v1+json",
                            "annotations": {"org.opencontainers.image.ref.name": "v1"}, **m}]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
    print(m["digest"])


if __name__ == "__main__":
    main()
